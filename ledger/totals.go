package ledger

import (
	"fmt"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// UnlockHeightLimit: a Monero unlock_time below it is a block height, at or
// above it a unix time.
const UnlockHeightLimit = 500_000_000

// Confirmations at tip: 0 in the mempool or when not confirmed.
func (d Deposit) Confirmations(tip int64) int64 {
	if d.Status != StatusConfirmed || d.Height <= 0 || tip < d.Height {
		return 0
	}
	return tip - d.Height + 1
}

// unlocked reports whether a deposit's unlock_time has passed at tip.
func unlocked(d Deposit, tip int64, now time.Time) bool {
	switch {
	case d.UnlockTime == 0:
		return true
	case d.UnlockTime < UnlockHeightLimit:
		return uint64(tip+1) >= d.UnlockTime
	default:
		return uint64(now.Unix()) >= d.UnlockTime
	}
}

// Counts reports whether a deposit is live (counts toward a total).
func (d Deposit) Counts() bool {
	return d.Status == StatusMempool || d.Status == StatusConfirmed
}

// IsConfirmed applies the confirmation rule: live, confirmed in a block,
// at least maxConfirms deep at tip and unlocked. With maxConfirms 0 a mempool
// deposit counts as confirmed too.
func (d Deposit) IsConfirmed(tip int64, maxConfirms int, now time.Time) bool {
	return d.Counts() && d.Confirmations(tip) >= int64(maxConfirms) && unlocked(d, tip, now)
}

// SumTotals adds up deposits at tip: confirmed per IsConfirmed, every other
// live deposit unconfirmed; orphaned and double-spend-flagged deposits count
// toward neither. Sums are checked for overflow.
func SumTotals(ds []Deposit, tip int64, maxConfirms int, now time.Time) (Totals, error) {
	t := Totals{Height: tip}
	var err error
	for _, d := range ds {
		switch {
		case !d.Counts():
		case d.IsConfirmed(tip, maxConfirms, now):
			t.Confirmed, err = chains.AddAmounts(t.Confirmed, d.Amount)
		default:
			t.Unconfirmed, err = chains.AddAmounts(t.Unconfirmed, d.Amount)
		}
		if err != nil {
			return Totals{}, fmt.Errorf("totals of %s: %w", d.Address, err)
		}
	}
	return t, nil
}
