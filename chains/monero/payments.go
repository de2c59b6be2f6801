package monero

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Everything wallet-rpc reports is untrusted: a transfer is turned into a
// ledger payment only when every value the ledger stores is in range and
// consistent with what the ledger holds, so that one odd transfer can never
// fail the window's ledger write (which would hold back every other
// payment). A transfer that fails a check is skipped, logged once and
// counted (Metrics.TransferSkipped with the reason); every other transfer
// proceeds.

// Reasons a transfer is skipped (the metric's reason label).
const (
	SkipMalformed   = "malformed"           // a field of the wrong type or out of its type's range
	SkipTxID        = "bad_txid"            // not 64 hex digits
	SkipAddress     = "bad_address"         // not a Monero address
	SkipAmount      = "amount_out_of_range" // above MaxTransferAmount
	SkipHeight      = "height_out_of_range" // a mined transfer at height 0 or above monerod's tip
	SkipIndexTaken  = "subaddress_index_taken"
	SkipTotalTooBig = "total_out_of_range" // an address's deposits would sum past MaxTransferAmount
)

// MaxTransferAmount is the largest amount (piconero) a transfer, or all
// deposits of one address together, may carry: 2^63-1, 9.2 million XMR,
// about half of all XMR there is. The SQLite ledger holds no more, and a
// wallet reporting more is broken or hostile.
const MaxTransferAmount = math.MaxInt64

// totalCheckFrom: when the amounts one poll reports for an address pass it
// (2^60 piconero, 1.15 million XMR), the address's recorded deposits are
// added to see whether the total stays within MaxTransferAmount. Real
// payments never get near, so the check costs nothing in practice.
const totalCheckFrom = 1 << 60

// skipped is one transfer left out of a poll.
type skipped struct {
	category, txid, address, reason, detail string
}

func (s skipped) key() string { return s.category + " " + s.txid + " " + s.address + " " + s.reason }

// addressBook is the ledger's Monero addresses with their indexes, followed
// through AddressesAfter: what a transfer's (address, index) is checked
// against before the ledger write would record it.
type addressBook struct {
	lastID  int64
	byAddr  map[string]SubaddressIndex // nil index fields: recorded without indexes
	byIndex map[SubaddressIndex]string
}

// update reads the addresses recorded since the last update.
func (b *addressBook) update(ctx context.Context, l WatcherLedger) error {
	if b.byAddr == nil {
		b.byAddr, b.byIndex = map[string]SubaddressIndex{}, map[SubaddressIndex]string{}
	}
	news, err := l.AddressesAfter(ctx, b.lastID)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	for _, a := range news {
		b.lastID = max(b.lastID, a.ID)
		if a.Chain != chains.XMR {
			continue
		}
		var idx SubaddressIndex
		if a.AccountIndex != nil && a.SubaddressIndex != nil {
			idx = SubaddressIndex{*a.AccountIndex, *a.SubaddressIndex}
			b.byIndex[idx] = a.Address
		}
		b.byAddr[a.Address] = idx
	}
	return nil
}

// payments turns the wallet's transfers of the watched account into ledger
// payments, one per (txid, subaddress); a transaction reported both mined
// and in the pool counts as mined. tip is monerod's tip for this poll.
func (w *Watcher) payments(tr Transfers, tip chains.Block) ([]chains.Payment, []skipped) {
	type key struct {
		txid  string
		minor uint32
	}
	var skips []skipped
	for _, m := range tr.Malformed {
		skips = append(skips, skipped{category: m.Category, txid: m.TxID, reason: SkipMalformed, detail: m.Err.Error()})
	}
	seen := make(map[key]int, len(tr.In)+len(tr.Pool))
	out := make([]chains.Payment, 0, len(tr.In)+len(tr.Pool))
	claimed := map[SubaddressIndex]string{} // indexes of addresses new to the ledger, this poll
	add := func(t Transfer, category string) {
		if t.SubaddrIndex.Major != w.cfg.Account {
			return // another account of the wallet: not watched here
		}
		p, skip := w.payment(t, category, tip)
		if skip == nil {
			skip = w.checkIndex(p, t.SubaddrIndex, claimed, category)
		}
		if skip != nil {
			skips = append(skips, *skip)
			return
		}
		k := key{p.TxID, t.SubaddrIndex.Minor}
		if i, dup := seen[k]; dup {
			if out[i].Height == 0 && p.Height > 0 {
				out[i] = p
			}
			return
		}
		seen[k] = len(out)
		out = append(out, p)
	}
	for _, t := range tr.In {
		add(t, "in")
	}
	for _, t := range tr.Pool {
		add(t, "pool")
	}
	return out, skips
}

// payment checks one transfer and converts it.
func (w *Watcher) payment(t Transfer, category string, tip chains.Block) (chains.Payment, *skipped) {
	skip := func(reason, format string, args ...any) (chains.Payment, *skipped) {
		return chains.Payment{}, &skipped{category: category, txid: truncate(t.TxID, 64), address: truncate(t.Address, 95),
			reason: reason, detail: fmt.Sprintf(format, args...)}
	}
	txid := strings.ToLower(t.TxID)
	if b, err := hex.DecodeString(txid); err != nil || len(b) != 32 {
		return skip(SkipTxID, "txid %q is not 64 hex digits", truncate(t.TxID, 80))
	}
	if err := ValidateAddressForm(t.Address); err != nil || len(t.Address) != 95 {
		return skip(SkipAddress, "address %q is not a Monero (sub)address", truncate(t.Address, 110))
	}
	if t.Amount > MaxTransferAmount {
		return skip(SkipAmount, "amount %d piconero is above %d (half of all XMR)", t.Amount, uint64(MaxTransferAmount))
	}
	height := int64(0) // a pool entry's height means nothing
	if category == "in" {
		height = t.Height
		if height < 1 || height > tip.Height {
			return skip(SkipHeight, "mined at height %d, monerod's tip is %d (does wallet-rpc follow another node?)", height, tip.Height)
		}
	}
	unlock := t.UnlockTime
	if unlock >= ledger.UnlockNever {
		unlock = ledger.UnlockNever // locked for ever either way; see ledger.UnlockNever
	}
	acct, sub := t.SubaddrIndex.Major, t.SubaddrIndex.Minor
	return chains.Payment{
		TxID: txid, Address: t.Address, Amount: t.Amount, UnlockTime: unlock,
		DoubleSpend: t.DoubleSpendSeen, Height: height,
		// A payment to a subaddress of the account this ledger has not
		// recorded (handed out by an earlier install, or the account's
		// base address) is recorded rather than lost.
		Watch: &chains.Address{Chain: chains.XMR, AccountIndex: &acct, SubaddressIndex: &sub, Label: "seen by watcher"},
	}, nil
}

// checkIndex: an address the ledger does not have yet is recorded with the
// wallet's index for it, which must not belong to another address (the
// ledger would refuse the whole write).
func (w *Watcher) checkIndex(p chains.Payment, idx SubaddressIndex, claimed map[SubaddressIndex]string, category string) *skipped {
	if _, known := w.book.byAddr[p.Address]; known {
		return nil // recorded: the write attributes the payment by address
	}
	other, taken := w.book.byIndex[idx]
	if !taken {
		other, taken = claimed[idx]
	}
	if taken && other != p.Address {
		return &skipped{category: category, txid: p.TxID, address: p.Address, reason: SkipIndexTaken,
			detail: fmt.Sprintf("the wallet puts it at subaddress %d/%d, which the ledger has for another address", idx.Major, idx.Minor)}
	}
	claimed[idx] = p.Address
	return nil
}

// checkTotals skips the payments that would take an address's deposits
// past MaxTransferAmount (SumTotals refuses sums that overflow, which would
// fail the write). Only addresses whose payments in this poll pass
// totalCheckFrom are looked up in the ledger.
func (w *Watcher) checkTotals(ctx context.Context, ps []chains.Payment) ([]chains.Payment, []skipped, error) {
	sums := map[string]uint64{}
	big := false
	for _, p := range ps {
		sums[p.Address] += p.Amount // each <= 2^63-1: two cannot wrap, a third is checked below
		if sums[p.Address] >= totalCheckFrom || sums[p.Address] < p.Amount {
			big = true
		}
	}
	if !big {
		return ps, nil, nil
	}
	var skips []skipped
	out := ps[:0:0]
	totals := map[string]uint64{}
	loaded := map[string]bool{}
	inPoll := map[string]bool{}
	for _, p := range ps {
		inPoll[p.TxID+" "+p.Address] = true
	}
	for _, p := range ps {
		if sums[p.Address] < totalCheckFrom {
			out = append(out, p)
			continue
		}
		if !loaded[p.Address] {
			loaded[p.Address] = true
			_, ds, err := w.ledger.Balance(ctx, chains.XMR, p.Address, 0)
			if err != nil && !isNotFound(err) {
				return nil, nil, fmt.Errorf("ledger: %w", err)
			}
			for _, d := range ds {
				if !inPoll[d.TxID+" "+d.Address] && d.Status != ledger.StatusOrphaned {
					totals[p.Address] = satAdd(totals[p.Address], d.Amount)
				}
			}
		}
		t := satAdd(totals[p.Address], p.Amount)
		if t > MaxTransferAmount {
			category := "in"
			if p.Height == 0 {
				category = "pool"
			}
			skips = append(skips, skipped{category: category, txid: p.TxID, address: p.Address, reason: SkipTotalTooBig,
				detail: fmt.Sprintf("the address's deposits would sum to more than %d piconero", uint64(MaxTransferAmount))})
			continue
		}
		totals[p.Address] = t
		out = append(out, p)
	}
	return out, skips, nil
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return math.MaxUint64
	}
	return a + b
}

// keepSkipped passes on unchanged the ledger's live deposits of the
// transactions a poll skipped: a transfer left out because its data was
// odd this once is "seen, unchanged", never gone, so the reconcile does not
// orphan its deposits and no receiver is sent a reversal. A skipped entry
// whose txid cannot be read (malformed, bad_txid) could be any of them, so
// then every live deposit of the window is kept; a real departure is
// recorded by the next poll whose answer is clean.
func (w *Watcher) keepSkipped(ctx context.Context, tip chains.Block, from int64, ps []chains.Payment, skips []skipped) ([]chains.Payment, error) {
	if len(skips) == 0 {
		return ps, nil
	}
	txids := map[string]bool{}
	all := false
	for _, s := range skips {
		id := strings.ToLower(s.txid)
		if b, err := hex.DecodeString(id); err != nil || len(b) != 32 {
			all = true
			continue
		}
		txids[id] = true
	}
	ds, err := w.ledger.WindowDeposits(ctx, chains.XMR, from)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	have := make(map[string]bool, len(ps))
	for _, p := range ps {
		have[p.TxID+" "+p.Address] = true
	}
	kept := 0
	for _, d := range ds {
		if have[d.TxID+" "+d.Address] || !(all || txids[d.TxID]) || d.Height > tip.Height {
			continue // seen, not skipped, or in a block above the tip (gone for sure)
		}
		have[d.TxID+" "+d.Address] = true
		ps = append(ps, chains.Payment{
			TxID: d.TxID, OutIndex: d.OutIndex, Address: d.Address, Amount: d.Amount, UnlockTime: d.UnlockTime,
			DoubleSpend: d.DoubleSpend || d.Status == ledger.StatusDoubleSpend, Height: d.Height, BlockHash: d.BlockHash,
		})
		kept++
	}
	if kept > 0 {
		w.log.Debug("skipped transfers: their recorded deposits kept unchanged", "kept", kept, "whole_window", all)
	}
	return ps, nil
}
