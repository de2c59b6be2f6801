package invoice

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// LossReason says why a deposit stopped counting.
type LossReason string

const (
	LossNone        LossReason = ""             // live
	LossReorg       LossReason = "reorg"        // its block left the best chain and it is in no block or mempool
	LossDoubleSpend LossReason = "double_spend" // a conflicting transaction was mined or flagged
	LossDropped     LossReason = "dropped"      // it left the mempool unconfirmed
	LossReplaced    LossReason = "replaced"     // replaced (RBF) by a transaction that does not pay it
)

// weight orders reasons by how strongly they point at a deliberate
// reversal, to name the most telling one when several deposits were lost.
func (r LossReason) weight() int {
	switch r {
	case LossDoubleSpend:
		return 4
	case LossReplaced:
		return 3
	case LossReorg:
		return 2
	case LossDropped:
		return 1
	}
	return 0
}

// Deposit is one payment to the invoice's address as the ledger sees it.
type Deposit struct {
	Amount    uint64
	FirstSeen time.Time
	// Live: the deposit counts (in a block of the best chain or in the
	// mempool, not flagged).
	Live bool
	// Confirmed under the invoice's confirmation rule (MaxConfirms and
	// unlock time); only read when Live.
	Confirmed bool
	// Lost is why a deposit that is not live stopped counting.
	Lost LossReason
}

// Evaluation is the outcome of Evaluate.
type Evaluation struct {
	// Invoice with its new Status and amounts.
	Invoice Invoice
	// From is the status before.
	From Status
	// Transition: the status changed. Exactly one IPN must be made for it.
	Transition bool
	// Changed: the status or an amount changed; the ledger writes the
	// invoice back.
	Changed bool
	// Reason, on a transition to reversed, is why the cover was lost (the
	// most telling reason among the lost on-time deposits).
	Reason LossReason
}

// ErrInvoice is wrapped by Evaluate's errors about an invoice record that
// can not be evaluated (a corrupt row, not bad chain data).
var ErrInvoice = errors.New("invalid invoice record")

// ErrNotCancellable: only a new invoice with nothing received can be
// cancelled.
var ErrNotCancellable = errors.New("invoice can not be cancelled")

// sums are the deposits' totals in atomic units.
type sums struct {
	paid, pending     uint64 // every counted live deposit
	onPaid, onPending uint64 // on-time ones only
	late              bool   // a live deposit first seen at or after ExpiresAt
	lost              LossReason
}

// sum adds up deposits for inv, checking for overflow: paid and pending
// are checked as they grow and their total at the end; the on-time sums
// are parts of them.
func sum(inv Invoice, deposits []Deposit) (sums, error) {
	var s sums
	var err error
	for _, d := range deposits {
		if d.FirstSeen.Before(inv.CreatedAt) {
			continue // not this invoice's: its address was fresh
		}
		onTime := d.FirstSeen.Before(inv.ExpiresAt)
		switch {
		case !d.Live:
			if onTime && d.Lost.weight() >= s.lost.weight() {
				s.lost = d.Lost
			}
			continue
		case d.Confirmed:
			s.paid, err = chains.AddAmounts(s.paid, d.Amount)
			if onTime {
				s.onPaid += d.Amount
			}
		default:
			s.pending, err = chains.AddAmounts(s.pending, d.Amount)
			if onTime {
				s.onPending += d.Amount
			}
		}
		if err != nil {
			break
		}
		s.late = s.late || !onTime
	}
	if err == nil {
		_, err = chains.AddAmounts(s.paid, s.pending)
	}
	if err != nil {
		return sums{}, fmt.Errorf("invoice %s: deposits to %s: %w", inv.ID, inv.Address, err)
	}
	return s, nil
}

// check refuses an invoice record Evaluate can not reason about.
func check(inv Invoice) error {
	switch {
	case inv.AmountAtomic == 0:
		return fmt.Errorf("%w: invoice %s has amount 0", ErrInvoice, inv.ID)
	case !inv.ExpiresAt.After(inv.CreatedAt):
		return fmt.Errorf("%w: invoice %s expires at %s, not after its creation at %s", ErrInvoice, inv.ID,
			inv.ExpiresAt.Format(time.RFC3339Nano), inv.CreatedAt.Format(time.RFC3339Nano))
	case !inv.Status.Valid():
		return fmt.Errorf("%w: invoice %s has unknown status %q", ErrInvoice, inv.ID, inv.Status)
	}
	return nil
}

// Evaluate recomputes inv's status and amounts from its address's deposits
// at now (the rules and every transition are in the package doc). It is
// deterministic and idempotent: evaluating its result again with the same
// deposits and time changes nothing. It fails only on a corrupt invoice
// record (ErrInvoice) or deposit sums beyond uint64.
func Evaluate(inv Invoice, deposits []Deposit, now time.Time) (Evaluation, error) {
	if err := check(inv); err != nil {
		return Evaluation{}, err
	}
	s, err := sum(inv, deposits)
	if err != nil {
		return Evaluation{}, err
	}
	next := inv
	next.PaidAtomic, next.PendingAtomic = s.paid, s.pending
	next.DueAtomic, next.ExcessAtomic = 0, 0
	if got := s.paid + s.pending; got < inv.AmountAtomic {
		next.DueAtomic = inv.AmountAtomic - got
	}
	if s.paid > inv.AmountAtomic {
		next.ExcessAtomic = s.paid - inv.AmountAtomic
	}
	next.Status = status(inv, s, next.ExcessAtomic, now)

	ev := Evaluation{Invoice: next, From: inv.Status, Transition: next.Status != inv.Status}
	ev.Changed = ev.Transition || next.PaidAtomic != inv.PaidAtomic || next.PendingAtomic != inv.PendingAtomic ||
		next.DueAtomic != inv.DueAtomic || next.ExcessAtomic != inv.ExcessAtomic
	if ev.Transition && next.Status == StatusReversed {
		ev.Reason = s.lost
	}
	return ev, nil
}

// status applies the rules of the package doc, in their order.
func status(inv Invoice, s sums, excess uint64, now time.Time) Status {
	covered := s.onPaid+s.onPending >= inv.AmountAtomic // bounded by paid+pending: no overflow
	switch {
	case inv.Status == StatusCancelled:
		return StatusCancelled
	case covered && s.paid >= inv.AmountAtomic && excess > 0:
		return StatusOverpaid
	case covered && s.paid >= inv.AmountAtomic:
		return StatusPaid
	case covered:
		return StatusProcessing
	case inv.Status.covering():
		return StatusReversed
	case now.Before(inv.ExpiresAt) && !s.late && !inv.Status.expiredFamily():
		return StatusNew
	case s.late:
		return StatusLate
	case s.onPaid > 0 || s.onPending > 0:
		return StatusUnderpaid
	}
	return StatusExpired
}

// Cancel cancels inv at now (POST /invoices/{id}/cancel): allowed only
// while it is new with nothing received, evaluated at now. The transition
// to cancelled makes an IPN like any other; cancelling a cancelled invoice
// again succeeds without a transition. When it is not allowed the
// error wraps ErrNotCancellable and the Evaluation is the plain
// re-evaluation at now, which the caller may store (an expiry that was
// due, say).
func Cancel(inv Invoice, deposits []Deposit, now time.Time) (Evaluation, error) {
	ev, err := Evaluate(inv, deposits, now)
	if err != nil {
		return Evaluation{}, err
	}
	cur := ev.Invoice
	if cur.Status == StatusCancelled {
		return ev, nil // cancelled before: a retried request succeeds, no new IPN
	}
	if cur.Status != StatusNew || cur.PaidAtomic != 0 || cur.PendingAtomic != 0 {
		why := "it is " + string(cur.Status)
		if cur.Status == StatusNew {
			why = "a payment to it was seen"
		}
		return ev, fmt.Errorf("%w: %s", ErrNotCancellable, why)
	}
	ev.Invoice.Status = StatusCancelled
	ev.Transition, ev.Changed = true, true
	return ev, nil
}
