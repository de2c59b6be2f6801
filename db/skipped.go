package db

import (
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/bech32"

	"github.com/ipnd/ipnd/chains"
)

// SkipObserver is the optional part of an Observer told of each payment a
// chain write left out (*metrics.Registry counts them as
// ipnd_chain_transfers_skipped_total).
type SkipObserver interface {
	ChainTransferSkipped(c chains.Chain, reason string)
}

// maxSkipsRemembered bounds the set of skipped payments already logged.
const maxSkipsRemembered = 10000

// paymentSkipped logs and counts a payment left out of a chain write, the
// first time this process sees it (a windowed chain reports it on every
// poll). The line names the chain, transaction, output and address and
// the amount; nothing secret is in a payment.
func (l *Ledger) paymentSkipped(c chains.Chain, p chains.Payment, reason string, err error) {
	key := fmt.Sprintf("%s %s %d %s %s", c, p.TxID, p.OutIndex, p.Address, reason)
	l.skipMu.Lock()
	if l.skips == nil || len(l.skips) >= maxSkipsRemembered {
		l.skips = map[string]bool{}
	}
	seen := l.skips[key]
	l.skips[key] = true
	l.skipMu.Unlock()
	if seen {
		return
	}
	args := []any{"chain", c, "txid", p.TxID, "out_index", p.OutIndex, "address", p.Address,
		"amount", p.Amount, "reason", reason}
	if err != nil {
		args = append(args, "err", err)
	}
	l.log.Error("payment skipped: the ledger cannot record it; the rest of the chain write proceeds", args...)
	if o, ok := l.observer.(SkipObserver); ok {
		o.ChainTransferSkipped(c, reason)
	}
}

// ledgerAddress is the one form the ledger stores an address in: a
// bech32 or bech32m string (valid checksum) in lower case, as BIP173
// requires of an all-upper-case one (QR codes); anything else (base58 is
// case-sensitive, Monero's too) exactly as given. Chain adapters
// canonicalise before they reach the ledger; the ledger applies this rule
// itself on every path that stores or looks up an address, so a form it
// was handed by any caller finds the same row.
func ledgerAddress(s string) string {
	if s == "" || strings.ToUpper(s) != s || !strings.Contains(s, "1") {
		return s
	}
	lower := strings.ToLower(s)
	if _, _, err := bech32.DecodeNoLimit(lower); err != nil {
		return s
	}
	return lower
}

// isIntegerOverflow: SQLite's SUM of integers beyond int64.
func isIntegerOverflow(err error) bool {
	return err != nil && strings.Contains(err.Error(), "integer overflow")
}
