package invoice

import (
	"encoding/binary"
	"math"
	"math/big"
	"testing"
	"time"
)

// fuzzDeposits decodes deposits from fuzz bytes, 11 bytes each: the amount
// (8 bytes, big-endian; flag bit 0x80 of the last byte keeps it whole, else
// it is cut to 20 bits so that sums near the invoice's amount are common),
// first seen in seconds relative to creation (int16, so before creation,
// on time and late all occur), and flags (live, confirmed, loss reason).
func fuzzDeposits(data []byte) []Deposit {
	var ds []Deposit
	for ; len(data) >= 11; data = data[11:] {
		a := binary.BigEndian.Uint64(data)
		flags := data[10]
		if flags&0x80 == 0 {
			a &= 1<<20 - 1
		}
		seen := int16(binary.BigEndian.Uint16(data[8:]))
		d := Deposit{Amount: a, FirstSeen: t0.Add(time.Duration(seen) * time.Second),
			Live: flags&1 != 0, Confirmed: flags&2 != 0}
		if !d.Live {
			d.Lost = []LossReason{LossReorg, LossDoubleSpend, LossDropped, LossReplaced}[flags>>2&3]
		}
		ds = append(ds, d)
	}
	return ds
}

func fuzzDeposit(amount uint64, seen int16, flags byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, amount)
	b = binary.BigEndian.AppendUint16(b, uint16(seen))
	return append(b, flags)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// FuzzEvaluate checks Evaluate's invariants on arbitrary deposits,
// statuses and times. `go test` runs its seed corpus; `go test -fuzz
// FuzzEvaluate ./invoice` explores.
func FuzzEvaluate(f *testing.F) {
	const live, conf, whole = 1, 2, 0x80
	expSec := int16(exp / time.Second)
	f.Add(uint64(amt), uint8(0), int64(60), []byte(nil))
	f.Add(uint64(amt), uint8(0), int64(exp/time.Second), []byte(nil))
	f.Add(uint64(amt), uint8(0), int64(60), fuzzDeposit(amt, 30, live))
	f.Add(uint64(amt), uint8(1), int64(3600), fuzzDeposit(amt, 30, live|conf))
	f.Add(uint64(amt), uint8(2), int64(3600), fuzzDeposit(amt, 30, 1<<2))
	f.Add(uint64(amt), uint8(0), int64(2000), cat(fuzzDeposit(40_000, 30, live|conf), fuzzDeposit(60_000, expSec+5, live)))
	f.Add(uint64(amt), uint8(7), int64(2000), cat(fuzzDeposit(amt, 30, 2<<2), fuzzDeposit(amt, expSec, live|conf)))
	f.Add(uint64(amt), uint8(5), int64(2000), fuzzDeposit(amt, 30, live))
	f.Add(uint64(amt), uint8(8), int64(60), fuzzDeposit(amt+1, 30, live|conf))
	f.Add(uint64(1), uint8(3), int64(60), cat(fuzzDeposit(math.MaxUint64, 30, live|conf|whole), fuzzDeposit(1, 40, live|whole)))
	f.Add(uint64(math.MaxUint64), uint8(0), int64(60), cat(fuzzDeposit(math.MaxUint64-1, 30, live|conf|whole), fuzzDeposit(1, 40, live|whole)))
	f.Add(uint64(amt), uint8(0), int64(60), fuzzDeposit(amt, -5, live|conf))

	f.Fuzz(func(t *testing.T, amount uint64, from uint8, nowSec int64, data []byte) {
		inv := testInvoice(Statuses[int(from)%len(Statuses)])
		inv.AmountAtomic = amount
		deps := fuzzDeposits(data)
		now := t0.Add(time.Duration(nowSec%(1<<32)) * time.Second)

		ev, err := Evaluate(inv, deps, now)
		if amount == 0 {
			if err == nil {
				t.Fatal("amount 0 evaluated")
			}
			return
		}
		// The exact sums, in big integers: counted live deposits and
		// every live deposit.
		paidBig, pendingBig, liveBig := new(big.Int), new(big.Int), new(big.Int)
		for _, d := range deps {
			if !d.Live {
				continue
			}
			v := new(big.Int).SetUint64(d.Amount)
			liveBig.Add(liveBig, v)
			if d.FirstSeen.Before(inv.CreatedAt) {
				continue
			}
			if d.Confirmed {
				paidBig.Add(paidBig, v)
			} else {
				pendingBig.Add(pendingBig, v)
			}
		}
		maxU := new(big.Int).SetUint64(math.MaxUint64)
		overflow := new(big.Int).Add(paidBig, pendingBig).Cmp(maxU) > 0
		if overflow != (err != nil) {
			t.Fatalf("overflow %v but err %v", overflow, err)
		}
		if err != nil {
			return
		}
		got := ev.Invoice
		paid, pending := got.PaidAtomic, got.PendingAtomic
		if paidBig.Uint64() != paid || pendingBig.Uint64() != pending {
			t.Fatalf("paid %d pending %d, want %s %s", paid, pending, paidBig, pendingBig)
		}
		if new(big.Int).Add(paidBig, pendingBig).Cmp(liveBig) > 0 {
			t.Fatalf("paid+pending %d+%d exceed the live deposits' %s", paid, pending, liveBig)
		}
		wantDue := uint64(0)
		if paid+pending < amount {
			wantDue = amount - paid - pending
		}
		if got.DueAtomic != wantDue {
			t.Fatalf("due %d, want max(%d-%d-%d, 0)", got.DueAtomic, amount, paid, pending)
		}
		if (got.ExcessAtomic != 0) != (paid > amount) || (paid > amount && got.ExcessAtomic != paid-amount) {
			t.Fatalf("excess %d with paid %d of %d", got.ExcessAtomic, paid, amount)
		}

		// The status agrees with the amounts.
		switch got.Status {
		case StatusPaid:
			if paid != amount {
				t.Fatalf("paid with %d of %d", paid, amount)
			}
		case StatusOverpaid:
			if paid <= amount {
				t.Fatalf("overpaid with %d of %d", paid, amount)
			}
		case StatusProcessing:
			if paid >= amount || got.DueAtomic != 0 {
				t.Fatalf("processing with paid %d due %d of %d", paid, got.DueAtomic, amount)
			}
		case StatusNew, StatusUnderpaid:
			if got.DueAtomic == 0 {
				t.Fatalf("%s with nothing due", got.Status)
			}
		case StatusExpired:
			if paid != 0 || pending != 0 {
				t.Fatalf("expired holding %d+%d", paid, pending)
			}
		}
		if got.Status == StatusNew && !now.Before(inv.ExpiresAt) {
			t.Fatalf("new at %s, expiry %s", now, inv.ExpiresAt)
		}

		// Transitions are exactly the status changes, and documented.
		if ev.From != inv.Status || ev.Transition != (got.Status != inv.Status) {
			t.Fatalf("from %s to %s reported transition %v", ev.From, got.Status, ev.Transition)
		}
		if ev.Transition && !documented[[2]Status{inv.Status, got.Status}] {
			t.Fatalf("undocumented transition %s -> %s", inv.Status, got.Status)
		}
		if ev.Transition && !ev.Changed {
			t.Fatal("a transition not marked changed")
		}
		if ev.Reason != "" && (!ev.Transition || got.Status != StatusReversed) {
			t.Fatalf("reason %q on %s -> %s", ev.Reason, inv.Status, got.Status)
		}

		// Idempotent: the same facts again change nothing.
		again, err := Evaluate(got, deps, now)
		if err != nil || again.Transition || again.Changed || again.Invoice.Status != got.Status {
			t.Fatalf("re-evaluation: %+v, %v", again, err)
		}
	})
}
