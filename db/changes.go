package db

import (
	"time"

	"github.com/ipnd/ipnd/ledger"
)

// changesFor lists how the write changed the standing of ds (one address's
// deposits, by id) for a subscription with maxConfirms: each deposit
// whose CountsAs before the write (its state then, at the old tip) differs
// from after it (at the new tip), with the reason (see the package ledger
// documentation).
func (w *chainWrite) changesFor(ds []ledger.Deposit, maxConfirms int, now time.Time) []ledger.DepositChange {
	var out []ledger.DepositChange
	for _, d := range ds {
		after := d.CountsAs(w.newTip.Height, maxConfirms, now)
		before := d.CountsAs(w.oldTip.Height, maxConfirms, now)
		if b, ok := w.before[d.ID]; ok {
			before = ledger.CountsNone
			if b.existed {
				before = b.d.CountsAs(w.oldTip.Height, maxConfirms, now)
			}
		}
		if before == after {
			continue
		}
		var reason string
		switch {
		case ledger.Up(before, after) && before == ledger.CountsNone:
			reason = ledger.ReasonSeen
		case ledger.Up(before, after):
			reason = ledger.ReasonConfirmed
		default:
			reason = w.reasons[d.ID]
			if reason == "" {
				reason = ledger.ReasonReorg // the tip went down under it
			}
		}
		out = append(out, ledger.DepositChange{TxID: d.TxID, OutIndex: d.OutIndex, Amount: d.Amount,
			From: before, To: after, Reason: reason})
	}
	return out
}

// initialChanges lists, for a new subscription, every deposit that counts
// as a change from none.
func initialChanges(ds []ledger.Deposit, tip int64, maxConfirms int, now time.Time) []ledger.DepositChange {
	var out []ledger.DepositChange
	for _, d := range ds {
		if to := d.CountsAs(tip, maxConfirms, now); to != ledger.CountsNone {
			out = append(out, ledger.DepositChange{TxID: d.TxID, OutIndex: d.OutIndex, Amount: d.Amount,
				From: ledger.CountsNone, To: to, Reason: ledger.ReasonSeen})
		}
	}
	return out
}
