package ledger

import (
	"testing"
	"time"
)

func TestLockedDepositsAndLockedForever(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	ds := []Deposit{
		{Status: StatusConfirmed, Height: 10, Amount: 1},                                          // confirmed
		{Status: StatusConfirmed, Height: 10, Amount: 10, UnlockTime: 30},                         // height lock: unconfirmed until tip 29
		{Status: StatusConfirmed, Height: 10, Amount: 100, UnlockTime: uint64(now.Unix()) + 3600}, // time lock an hour ahead
		{Status: StatusConfirmed, Height: 10, Amount: 1000, UnlockTime: UnlockNever},              // never
		{Status: StatusMempool, Amount: 10000, UnlockTime: 1<<64 - 1},                             // never (not saturated yet)
	}
	tot, err := SumTotals(ds, 20, 1, now)
	if err != nil || tot.Confirmed != 1 || tot.Unconfirmed != 110 {
		t.Fatalf("at tip 20: %+v %v", tot, err)
	}
	tot, _ = SumTotals(ds, 29, 1, now.Add(2*time.Hour))
	if tot.Confirmed != 111 || tot.Unconfirmed != 0 {
		t.Fatalf("after both locks passed: %+v", tot)
	}
	for i, want := range []bool{false, true, true, true, true} {
		if got := ds[i].Locked(20, now); got != want {
			t.Errorf("deposit %d locked at tip 20 = %v, want %v", i, got, want)
		}
	}
	if ds[2].LockedForever() || !ds[3].LockedForever() || !ds[4].LockedForever() || ds[3].Counts() || ds[3].IsConfirmed(1<<40, 0, now) {
		t.Fatal("locked-for-ever rule")
	}
}
