package db_test

import (
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

// TestUnlockNeverStoredAndCountsNowhere: a Monero deposit with the highest
// unlock_time the ledger stores (ledger.UnlockNever, what a watcher stores
// for any unlock_time >= 2^63-1) is recorded on both drivers, reads back
// exactly, counts toward neither total and does not hold back a normal
// payment to the same address in the same write.
func TestUnlockNeverStoredAndCountsNowhere(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: "8sub", AccountIndex: u32(0), SubaddressIndex: u32(1)}); err != nil {
			t.Fatal(err)
		}
		seen := []chains.Payment{
			{TxID: "locked", Address: "8sub", Amount: 7, Height: 50, UnlockTime: ledger.UnlockNever},
			{TxID: "normal", Address: "8sub", Amount: 3, Height: 50},
			{TxID: "pool-locked", Address: "8sub", Amount: 11, UnlockTime: ledger.UnlockNever},
		}
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(60), 40, seen); err != nil {
			t.Fatalf("ReconcileWindow: %v", err)
		}
		wantBalance(t, l, chains.XMR, "8sub", 1, 3, 0)
		wantBalance(t, l, chains.XMR, "8sub", 0, 3, 0)
		_, ds, err := l.Balance(ctx, chains.XMR, "8sub", 1)
		if err != nil || len(ds) != 3 {
			t.Fatalf("deposits %+v %v", ds, err)
		}
		for _, d := range ds {
			if d.TxID != "normal" && (d.UnlockTime != ledger.UnlockNever || !d.LockedForever() || d.Counts()) {
				t.Fatalf("deposit %s: unlock_time %d, locked for ever %v, counts %v", d.TxID, d.UnlockTime, d.LockedForever(), d.Counts())
			}
		}
		// Polled again unchanged: nothing to update.
		ch, err := l.ReconcileWindow(ctx, chains.XMR, blk(60), 40, seen)
		if err != nil || ch != (chains.Change{}) {
			t.Fatalf("replay: %+v %v", ch, err)
		}
	})
}
