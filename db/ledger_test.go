package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ledger"
)

// contract runs fn against a fresh ledger of each backend.
func contract(t *testing.T, fn func(t *testing.T, l *db.Ledger)) {
	contractWith(t, db.Options{}, fn)
}

func contractWith(t *testing.T, opts db.Options, fn func(t *testing.T, l *db.Ledger)) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			fn(t, dbtest.Ledger(t, driver, opts))
		})
	}
}

var ctx = context.Background()

func u32(v uint32) *uint32 { return &v }

func mustAddr(t *testing.T, l *db.Ledger, c chains.Chain, addr string, index uint32) chains.Address {
	t.Helper()
	a, err := l.EnsureAddress(ctx, chains.Address{Chain: c, Address: addr, DerivationIndex: u32(index)})
	if err != nil {
		t.Fatalf("EnsureAddress(%s): %v", addr, err)
	}
	return a
}

// applyBlock connects block b with payments ps (the connect of
// ApplyChainUpdate, as chainsync writes one block).
func applyBlock(l *db.Ledger, c chains.Chain, b chains.Block, ps []chains.Payment) (chains.Change, error) {
	return l.ApplyChainUpdate(ctx, c, chains.ChainUpdate{Connect: []chains.BlockPayments{{Block: b, Payments: ps}}})
}

// applyMempool records new unconfirmed payments and drops the gone
// transactions (reason: dropped from the mempool).
func applyMempool(l *db.Ledger, c chains.Chain, added []chains.Payment, gone []string) (chains.Change, error) {
	gs := make([]chains.Gone, len(gone))
	for i, id := range gone {
		gs[i] = chains.Gone{TxID: id, Reason: chains.ReasonDropped}
	}
	return applyMempoolGone(l, c, added, gs)
}

// applyMempoolGone is applyMempool with the reasons of the gone
// transactions.
func applyMempoolGone(l *db.Ledger, c chains.Chain, added []chains.Payment, gone []chains.Gone) (chains.Change, error) {
	return l.ApplyChainUpdate(ctx, c, chains.ChainUpdate{Mempool: added, Gone: gone})
}

// revertBlock disconnects the tip b back to parent; the deposits of the
// transactions in stillInMempool go back to the mempool, the others are
// orphaned.
func revertBlock(l *db.Ledger, c chains.Chain, b, parent chains.Block, stillInMempool []string) (chains.Change, error) {
	keep := map[string]bool{}
	for _, id := range stillInMempool {
		keep[id] = true
	}
	return l.ApplyChainUpdate(ctx, c, chains.ChainUpdate{Disconnect: []chains.Block{b}, Ancestor: parent,
		InMempool: func(txid string) bool { return keep[txid] }})
}

func blk(h int64) chains.Block { return chains.Block{Height: h, Hash: fmt.Sprintf("%064x", h)} }

func fork(h int64) chains.Block { return chains.Block{Height: h, Hash: fmt.Sprintf("f%063x", h)} }

// mine applies empty blocks until the tip is at height h.
func mineTo(t *testing.T, l *db.Ledger, c chains.Chain, h int64) {
	t.Helper()
	tip, _, err := l.Tip(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	for x := tip.Height + 1; x <= h; x++ {
		if _, err := applyBlock(l, c, blk(x), nil); err != nil {
			t.Fatalf("block %d: %v", x, err)
		}
	}
}

func balance(t *testing.T, l *db.Ledger, c chains.Chain, addr string, mc int) (uint64, uint64) {
	t.Helper()
	tot, _, err := l.Balance(ctx, c, addr, mc)
	if err != nil {
		t.Fatalf("Balance(%s): %v", addr, err)
	}
	return tot.Confirmed, tot.Unconfirmed
}

func wantBalance(t *testing.T, l *db.Ledger, c chains.Chain, addr string, mc int, conf, unconf uint64) {
	t.Helper()
	gc, gu := balance(t, l, c, addr, mc)
	if gc != conf || gu != unconf {
		t.Fatalf("Balance(%s, max_confirms=%d) = (%d, %d), want (%d, %d)", addr, mc, gc, gu, conf, unconf)
	}
}

func countDeposits(t *testing.T, l *db.Ledger) int {
	t.Helper()
	var n int
	if err := l.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM deposits`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrateIsIdempotentAndRefusesNewerSchema(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := dbtest.DSN(t, driver)
			l, err := db.Open(ctx, driver, dsn, db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			from, to, err := l.Migrate(ctx)
			if err != nil || from != 0 || to < 1 {
				t.Fatalf("first Migrate = %d, %d, %v; want 0 -> latest", from, to, err)
			}
			from2, to2, err := l.Migrate(ctx)
			if err != nil || from2 != to || to2 != to {
				t.Fatalf("second Migrate = %d, %d, %v; want a no-op at %d", from2, to2, err, to)
			}
			if _, err := l.DB().ExecContext(ctx, `INSERT INTO schema_version (version, name, applied_at) VALUES (9999, 'future', 0)`); err != nil {
				t.Fatal(err)
			}
			if _, _, err := l.Migrate(ctx); !errors.Is(err, db.ErrSchemaNewer) {
				t.Fatalf("Migrate on a newer schema = %v, want ErrSchemaNewer", err)
			}
		})
	}
}

func TestReplaysNeverDuplicateDeposits(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		mustAddr(t, l, chains.BTC, "addrA", 0)
		if err := l.SetStart(ctx, chains.BTC, blk(100)); err != nil {
			t.Fatal(err)
		}
		pay := chains.Payment{TxID: "tx1", OutIndex: 1, Address: "addrA", Amount: 5000}
		for i := 0; i < 2; i++ { // the same mempool poll twice
			if _, err := applyMempool(l, chains.BTC, []chains.Payment{pay}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 2; i++ { // the same block twice: the second is refused, not doubled
			_, err := applyBlock(l, chains.BTC, blk(101), []chains.Payment{pay})
			if i == 1 && !errors.Is(err, ledger.ErrNotContiguous) {
				t.Fatalf("replayed block: %v, want ErrNotContiguous", err)
			}
			if i == 0 && err != nil {
				t.Fatal(err)
			}
		}
		// A late mempool sighting does not demote the confirmed deposit.
		if _, err := applyMempool(l, chains.BTC, []chains.Payment{pay}, nil); err != nil {
			t.Fatal(err)
		}
		// Revert and connect again (a reorg back and forth).
		if _, err := revertBlock(l, chains.BTC, blk(101), blk(100), []string{"tx1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := applyBlock(l, chains.BTC, blk(101), []chains.Payment{pay}); err != nil {
			t.Fatal(err)
		}
		// Monero-style reconcile, twice.
		mustAddr(t, l, chains.XMR, "sub1", 1)
		xp := chains.Payment{TxID: "xtx", Address: "sub1", Amount: 7, Height: 0}
		for i := 0; i < 2; i++ {
			if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(10), 0, []chains.Payment{xp}); err != nil {
				t.Fatal(err)
			}
		}
		if n := countDeposits(t, l); n != 2 {
			t.Fatalf("deposits = %d, want 2", n)
		}
		wantBalance(t, l, chains.BTC, "addrA", 1, 5000, 0)
		wantBalance(t, l, chains.XMR, "sub1", 1, 0, 7)
	})
}

func TestDisconnectRollsBackDeposits(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		mustAddr(t, l, chains.BTC, "addrA", 0)
		if err := l.SetStart(ctx, chains.BTC, blk(10)); err != nil {
			t.Fatal(err)
		}
		kept := chains.Payment{TxID: "kept", Address: "addrA", Amount: 100}
		lost := chains.Payment{TxID: "lost", Address: "addrA", Amount: 20}
		deep := chains.Payment{TxID: "deep", Address: "addrA", Amount: 3}
		if _, err := applyBlock(l, chains.BTC, blk(11), []chains.Payment{deep}); err != nil {
			t.Fatal(err)
		}
		if _, err := applyBlock(l, chains.BTC, blk(12), []chains.Payment{kept, lost}); err != nil {
			t.Fatal(err)
		}
		mineTo(t, l, chains.BTC, 13)
		wantBalance(t, l, chains.BTC, "addrA", 1, 123, 0)

		// Disconnect 13 and 12: "kept" is back in the node's mempool, "lost" vanished.
		if _, err := revertBlock(l, chains.BTC, blk(12), blk(11), nil); err == nil {
			t.Fatal("reverting a block that is not the tip must fail")
		}
		if _, err := revertBlock(l, chains.BTC, blk(13), blk(12), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := revertBlock(l, chains.BTC, blk(12), blk(11), []string{"kept"}); err != nil {
			t.Fatal(err)
		}
		tip, _, _ := l.Tip(ctx, chains.BTC)
		if tip != blk(11) {
			t.Fatalf("tip after revert = %+v, want block 11", tip)
		}
		wantBalance(t, l, chains.BTC, "addrA", 1, 3, 100)
		_, ds, err := l.Balance(ctx, chains.BTC, "addrA", 1)
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]string{}
		for _, d := range ds {
			status[d.TxID] = d.Status
		}
		want := map[string]string{"deep": ledger.StatusConfirmed, "kept": ledger.StatusMempool, "lost": ledger.StatusOrphaned}
		if fmt.Sprint(status) != fmt.Sprint(want) {
			t.Fatalf("statuses = %v, want %v", status, want)
		}
		// The new branch confirms "kept" at 12'.
		if _, err := applyBlock(l, chains.BTC, fork(12), []chains.Payment{kept}); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, l, chains.BTC, "addrA", 1, 103, 0)
		blocks, err := l.RecentBlocks(ctx, chains.BTC, 3)
		if err != nil || len(blocks) != 3 || blocks[0] != fork(12) || blocks[1] != blk(11) {
			t.Fatalf("RecentBlocks = %v, %v", blocks, err)
		}
	})
}

func TestTotalsPerMaxConfirms(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		mustAddr(t, l, chains.BTC, "addrA", 0)
		mustAddr(t, l, chains.BTC, "addrB", 1)
		if err := l.SetStart(ctx, chains.BTC, blk(99)); err != nil {
			t.Fatal(err)
		}
		// 1000 at height 100, 200 at 102, 30 in the mempool; tip 104.
		if _, err := applyBlock(l, chains.BTC, blk(100), []chains.Payment{{TxID: "a", Address: "addrA", Amount: 1000}}); err != nil {
			t.Fatal(err)
		}
		mineTo(t, l, chains.BTC, 101)
		if _, err := applyBlock(l, chains.BTC, blk(102), []chains.Payment{{TxID: "b", Address: "addrA", Amount: 200}, {TxID: "b", OutIndex: 1, Address: "addrB", Amount: 9}}); err != nil {
			t.Fatal(err)
		}
		mineTo(t, l, chains.BTC, 104)
		if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: "c", Address: "addrA", Amount: 30}}, nil); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			mc           int
			conf, unconf uint64
		}{{0, 1230, 0}, {1, 1200, 30}, {3, 1200, 30}, {4, 1000, 230}, {5, 1000, 230}, {6, 0, 1230}} {
			wantBalance(t, l, chains.BTC, "addrA", tc.mc, tc.conf, tc.unconf)
		}
		wantBalance(t, l, chains.BTC, "addrB", 3, 9, 0)
		if _, _, err := l.Balance(ctx, chains.BTC, "nobody", 1); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("Balance of an unknown address: %v, want ErrNotFound", err)
		}
		// The mempool transaction is dropped (replaced or evicted).
		if _, err := applyMempool(l, chains.BTC, nil, []string{"c", "a"}); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, l, chains.BTC, "addrA", 1, 1200, 0) // "a" is confirmed: untouched
	})
}

func TestMoneroRules(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: "8sub", AccountIndex: u32(0), SubaddressIndex: u32(1)}); err != nil {
			t.Fatal(err)
		}
		seen := []chains.Payment{
			{TxID: "t1", Address: "8sub", Amount: 1, Height: 50},
			{TxID: "t2", Address: "8sub", Amount: 10, Height: 50, UnlockTime: 60},          // locked until height 60
			{TxID: "t3", Address: "8sub", Amount: 100, Height: 0, DoubleSpend: true},       // flagged
			{TxID: "t4", Address: "8sub", Amount: 1000, Height: 0},                         // pool
			{TxID: "t5", Address: "8sub", Amount: 10000, Height: 52},                       // will vanish
			{TxID: "t6", Address: "8sub", Amount: 100000, Height: 40, UnlockTime: 1 << 40}, // unix time far ahead
		}
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(55), 45, seen); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, l, chains.XMR, "8sub", 1, 10001, 101010)
		// At tip 59 unlock height 60 is reached (tip+1 >= 60); t5 left the wallet inside the window.
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(59), 49, seen[:4]); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, l, chains.XMR, "8sub", 1, 11, 101000)
		wantBalance(t, l, chains.XMR, "8sub", 10, 11, 101000)
		wantBalance(t, l, chains.XMR, "8sub", 11, 0, 101011)
		// t6 is below the window: it stays although not reported again.
		_, ds, _ := l.Balance(ctx, chains.XMR, "8sub", 1)
		for _, d := range ds {
			if d.TxID == "t6" && d.Status != ledger.StatusConfirmed || d.TxID == "t5" && d.Status != ledger.StatusOrphaned ||
				d.TxID == "t3" && d.Status != ledger.StatusDoubleSpend {
				t.Fatalf("deposit %s has status %s", d.TxID, d.Status)
			}
		}
	})
}

func TestSumTotalsOverflow(t *testing.T) {
	ds := []ledger.Deposit{
		{Status: ledger.StatusConfirmed, Height: 1, Amount: 1<<64 - 1},
		{Status: ledger.StatusConfirmed, Height: 1, Amount: 1},
	}
	if _, err := ledger.SumTotals(ds, 10, 1, time.Now()); err == nil {
		t.Fatal("overflowing sum accepted")
	}
	ds[1].Status = ledger.StatusMempool
	tot, err := ledger.SumTotals(ds, 10, 1, time.Now())
	if err != nil || tot.Confirmed != 1<<64-1 || tot.Unconfirmed != 1 {
		t.Fatalf("SumTotals = %+v, %v", tot, err)
	}
}

func TestAllocationNeverRepeatsAnIndex(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := dbtest.DSN(t, driver)
			// Two ledgers on one database: two ipnd processes.
			l1 := dbtest.Open(t, driver, dsn, db.Options{})
			l2 := dbtest.Open(t, driver, dsn, db.Options{})
			derive := func(i uint32) (string, error) { return fmt.Sprintf("addr%d", i), nil }
			// A caller's fixed index (a user id) is taken first.
			if _, err := l1.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: "addr3", DerivationIndex: u32(3)}); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			got := map[uint32]int{}
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for w, l := range []*db.Ledger{l1, l2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 20; i++ {
						a, err := l.AllocateAddress(ctx, chains.BTC, derive, fmt.Sprintf("w%d", w))
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						got[*a.DerivationIndex]++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(got) != 40 {
				t.Fatalf("%d distinct indexes for 40 allocations", len(got))
			}
			for i, n := range got {
				if n != 1 || i == 3 || i > 40 {
					t.Fatalf("index %d handed out %d times (3 was taken by a fixed allocation)", i, n)
				}
			}
			// A restart continues after the highest.
			l3 := dbtest.Open(t, driver, dsn, db.Options{})
			a, err := l3.AllocateAddress(ctx, chains.BTC, derive, "")
			if err != nil || *a.DerivationIndex != 41 {
				t.Fatalf("allocation after restart = %v, %v; want index 41", a.DerivationIndex, err)
			}
			if max, err := l3.HighestDerivationIndex(ctx, chains.BTC); err != nil || max != 41 {
				t.Fatalf("HighestDerivationIndex = %d, %v", max, err)
			}
			// The same index for another address is refused.
			if _, err := l3.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: "other", DerivationIndex: u32(5)}); !errors.Is(err, ledger.ErrIndexTaken) {
				t.Fatalf("EnsureAddress on a taken index: %v", err)
			}
		})
	}
}
