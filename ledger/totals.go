package ledger

import (
	"fmt"
	"math"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// UnlockHeightLimit: a Monero unlock_time below it is a block height, at or
// above it a unix time.
const UnlockHeightLimit = 500_000_000

// UnlockNever is the highest Monero unlock_time the ledger stores: SQLite's
// INTEGER is a signed 64-bit number, and wallet-rpc reports any uint64 (a
// sender may set up to 2^64-1). The rule: an unlock_time at or above
// UnlockNever (2^63-1) is stored as UnlockNever. Read as a unix time it
// lies 292 billion years ahead, so the payment is locked for ever either
// way, and such a deposit counts toward neither total (LockedForever).
const UnlockNever = math.MaxInt64

// LockedForever reports whether a deposit's unlock_time is UnlockNever
// (or above): it never unlocks, so it counts toward neither total.
func (d Deposit) LockedForever() bool { return d.UnlockTime >= UnlockNever }

// Locked reports whether a deposit's unlock_time has not passed at tip.
func (d Deposit) Locked(tip int64, now time.Time) bool { return !unlocked(d, tip, now) }

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

// Counts reports whether a deposit is live and can ever unlock (counts
// toward a total).
func (d Deposit) Counts() bool {
	return (d.Status == StatusMempool || d.Status == StatusConfirmed) && !d.LockedForever()
}

// IsConfirmed applies the confirmation rule: live, confirmed in a block,
// at least maxConfirms deep at tip and unlocked. With maxConfirms 0 a mempool
// deposit counts as confirmed too.
func (d Deposit) IsConfirmed(tip int64, maxConfirms int, now time.Time) bool {
	return d.Counts() && d.Confirmations(tip) >= int64(maxConfirms) && unlocked(d, tip, now)
}

// SumTotals adds up deposits at tip: confirmed per IsConfirmed, every other
// live deposit unconfirmed; orphaned, double-spend-flagged and
// locked-for-ever deposits count toward neither. Sums are checked for
// overflow (ErrTotalOverflow).
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
			return Totals{}, fmt.Errorf("totals of %s: %w: %w", d.Address, ErrTotalOverflow, err)
		}
	}
	return t, nil
}
