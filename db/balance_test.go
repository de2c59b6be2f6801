package db_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

// TestBalanceReadsOneAddress checks every field Balance returns: the tip
// height with and without a stored tip, an address without deposits, the
// deposit list in recording order with all its columns, and that deposits of
// other addresses and chains stay out.
func TestBalanceReadsOneAddress(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)
	contractWith(t, db.Options{Now: func() time.Time { return now }}, func(t *testing.T, l *db.Ledger) {
		a := mustAddr(t, l, chains.BTC, "addrA", 0)
		mustAddr(t, l, chains.BTC, "addrB", 1)
		x, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: "8sub", AccountIndex: u32(0), SubaddressIndex: u32(1)})
		if err != nil {
			t.Fatal(err)
		}

		// No tip yet, no deposit: zero totals at height 0, an empty list.
		tot, ds, err := l.Balance(ctx, chains.BTC, "addrA", 1)
		if err != nil || tot != (ledger.Totals{}) || len(ds) != 0 {
			t.Fatalf("Balance without tip or deposits = %+v, %v, %v", tot, ds, err)
		}
		// The address exists on one chain only.
		if _, _, err := l.Balance(ctx, chains.XMR, "addrA", 1); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("Balance of a BTC address asked as XMR: %v, want ErrNotFound", err)
		}

		if err := l.SetStart(ctx, chains.BTC, blk(9)); err != nil {
			t.Fatal(err)
		}
		tot, ds, err = l.Balance(ctx, chains.BTC, "addrA", 1)
		if err != nil || tot != (ledger.Totals{Height: 9}) || len(ds) != 0 {
			t.Fatalf("Balance without deposits at tip 9 = %+v, %v, %v", tot, ds, err)
		}

		if _, err := applyMempool(l, chains.BTC, []chains.Payment{
			{TxID: "m1", Address: "addrA", Amount: 7},
			{TxID: "m2", OutIndex: 3, Address: "addrB", Amount: 8},
		}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := applyBlock(l, chains.BTC, blk(10), []chains.Payment{
			{TxID: "c1", OutIndex: 2, Address: "addrA", Amount: 500},
			{TxID: "c2", Address: "addrB", Amount: 600},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(30), 20, []chains.Payment{
			{TxID: "x1", Address: "8sub", Amount: 9, Height: 25, UnlockTime: 40},
			{TxID: "x2", Address: "8sub", Amount: 11, DoubleSpend: true},
		}); err != nil {
			t.Fatal(err)
		}

		tot, ds, err = l.Balance(ctx, chains.BTC, "addrA", 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := (ledger.Totals{Confirmed: 500, Unconfirmed: 7, Height: 10}); tot != want {
			t.Fatalf("addrA totals = %+v, want %+v", tot, want)
		}
		if len(ds) != 2 || ds[0].ID >= ds[1].ID {
			t.Fatalf("addrA deposits = %+v, want m1 then c1", ds)
		}
		for i := range ds {
			ds[i].ID = 0
		}
		want := []ledger.Deposit{
			{Chain: chains.BTC, TxID: "m1", AddressID: a.ID, Address: "addrA", Amount: 7, Status: ledger.StatusMempool, Reason: ledger.ReasonSeen, FirstSeen: now, UpdatedAt: now},
			{Chain: chains.BTC, TxID: "c1", OutIndex: 2, AddressID: a.ID, Address: "addrA", Amount: 500, Height: 10, BlockHash: blk(10).Hash,
				Status: ledger.StatusConfirmed, Reason: ledger.ReasonConfirmed, FirstSeen: now, UpdatedAt: now},
		}
		if !reflect.DeepEqual(ds, want) {
			t.Fatalf("addrA deposits =\n%+v\nwant\n%+v", ds, want)
		}

		tot, ds, err = l.Balance(ctx, chains.XMR, "8sub", 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := (ledger.Totals{Unconfirmed: 9, Height: 30}); tot != want { // x1 locked until 40, x2 flagged
			t.Fatalf("8sub totals = %+v, want %+v", tot, want)
		}
		if len(ds) != 2 || ds[0].TxID != "x1" || ds[0].UnlockTime != 40 || ds[0].AddressID != x.ID || ds[0].Chain != chains.XMR ||
			ds[1].TxID != "x2" || !ds[1].DoubleSpend || ds[1].Status != ledger.StatusDoubleSpend {
			t.Fatalf("8sub deposits = %+v", ds)
		}
	})
}
