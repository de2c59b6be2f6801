package api

// GET|POST /balance: an address's totals and deposits.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// balanceTarget finds the address a balance request is about: address, or
// chain + index (a Bitcoin derivation index).
func (s *Server) balanceTarget(ctx context.Context, p *params) (chains.Chain, string, error) {
	addr, hasAddr, err := p.str("address", maxAddressLen)
	if err != nil {
		return "", "", err
	}
	idx, hasIdx, err := p.uint("index", 0, ledger.MaxDerivationIndex)
	if err != nil {
		return "", "", err
	}
	if hasAddr {
		if hasIdx {
			return "", "", badField("index", "give address or chain and index, not both")
		}
		return s.chainOf(p, addr)
	}
	name, named, err := p.str("chain", 16)
	if err != nil {
		return "", "", err
	}
	if !named || !hasIdx {
		return "", "", badField("address", "required (or chain and index)")
	}
	c, err := s.enabled("chain", name)
	if err != nil {
		return "", "", err
	}
	if spec, _ := c.Spec(); !spec.DerivationIndexes {
		return "", "", badField("index", "lookup by index is for Bitcoin derivation indexes; give the %s address", c)
	}
	a, err := s.o.Ledger.AddressByIndex(ctx, c, uint32(idx))
	if errors.Is(err, ledger.ErrNotFound) {
		return "", "", &Error{Status: http.StatusNotFound, Field: "index", Message: fmt.Sprintf("no %s address is allocated at index %d", c, idx)}
	}
	if err != nil {
		return "", "", err
	}
	return c, a.Address, nil
}

type txJSON struct {
	TxID          string `json:"txid"`
	OutIndex      uint32 `json:"out_index"`
	Amount        string `json:"amount"`
	AmountAtomic  string `json:"amount_atomic"`
	Confirmations int64  `json:"confirmations"`
	Height        int64  `json:"height,omitempty"`
	Status        string `json:"status"`
	CountsAs      string `json:"counts_as"` // confirmed, unconfirmed or none
	// Reason is why the deposit last changed (seen, confirmed, reorg,
	// double_spend, dropped_from_mempool, replaced).
	Reason string `json:"reason,omitempty"`
	// Monero: the transaction's unlock_time (exact, as a string) and
	// whether it has not passed yet; an unlock_time of 2^63-1 stands for
	// any at or above it (ledger.UnlockNever): locked for ever.
	UnlockTime string `json:"unlock_time,omitempty"`
	Locked     bool   `json:"locked,omitempty"`
	FirstSeen  string `json:"first_seen,omitempty"`
}

type balanceJSON struct {
	Chain             chains.Chain `json:"chain"`
	Address           string       `json:"address"`
	Label             string       `json:"label"`
	Confirmed         string       `json:"confirmed"`
	Unconfirmed       string       `json:"unconfirmed"`
	ConfirmedAtomic   string       `json:"confirmed_atomic"`
	UnconfirmedAtomic string       `json:"unconfirmed_atomic"`
	MaxConfirms       int          `json:"max_confirms"`
	Height            int64        `json:"height"`
	Transactions      []txJSON     `json:"transactions"`
}

func notWatched(c chains.Chain) *Error {
	return &Error{Status: http.StatusNotFound, Field: "address", Message: fmt.Sprintf(
		"a valid %s address, but this server does not watch it; subscribe to it (POST /subscribe) or allocate addresses with POST /addresses", c)}
}

func (s *Server) balance(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	c, addr, err := s.balanceTarget(ctx, p)
	if err != nil {
		return err
	}
	mc, err := s.maxConfirms(p)
	if err != nil {
		return err
	}
	b, err := s.o.Ledger.AddressBalance(ctx, c, addr, mc)
	if errors.Is(err, ledger.ErrNotFound) {
		return notWatched(c)
	}
	if err != nil {
		return err
	}
	// The totals, each deposit's counts_as and locked come from one read
	// (the deposits and the tip of one statement) and one clock reading:
	// the ledger summed with its own clock, so a time-locked Monero deposit
	// whose unlock time fell between the two readings was counted
	// unconfirmed in the totals and confirmed in its row.
	ds, now := b.Deposits, s.o.Now()
	t, err := ledger.SumTotals(ds, b.Totals.Height, mc, now)
	if err != nil {
		return err
	}
	out := balanceJSON{
		Chain: c, Address: addr, Label: b.Label, MaxConfirms: mc, Height: t.Height,
		Confirmed: c.FormatAmount(t.Confirmed), Unconfirmed: c.FormatAmount(t.Unconfirmed),
		ConfirmedAtomic: strconv.FormatUint(t.Confirmed, 10), UnconfirmedAtomic: strconv.FormatUint(t.Unconfirmed, 10),
		Transactions: make([]txJSON, 0, len(ds)),
	}
	for _, d := range ds {
		tx := txJSON{
			TxID: d.TxID, OutIndex: d.OutIndex, Amount: c.FormatAmount(d.Amount), AmountAtomic: strconv.FormatUint(d.Amount, 10),
			Confirmations: d.Confirmations(t.Height), Height: d.Height, Status: d.Status,
			CountsAs: d.CountsAs(t.Height, mc, now), Reason: d.Reason, FirstSeen: stamp(d.FirstSeen),
		}
		if d.UnlockTime != 0 {
			tx.UnlockTime, tx.Locked = strconv.FormatUint(d.UnlockTime, 10), d.Locked(t.Height, now)
		}
		out.Transactions = append(out.Transactions, tx)
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}
