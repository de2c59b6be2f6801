package db_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ledger"
)

// TestOneSyncProcessPerChain: a second locker waits while the first holds
// the chain, takes over when the first goes away, and other chains are free.
func TestOneSyncProcessPerChain(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := dbtest.DSN(t, driver)
			first := dbtest.Open(t, driver, dsn, db.Options{})
			second := dbtest.Open(t, driver, dsn, db.Options{})
			held, release, err := first.LockChain(ctx, chains.BTC, dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, rel, err := second.LockChain(ctx, chains.XMR, dsn, nil); err != nil {
				t.Fatalf("another chain's lock: %v", err)
			} else {
				rel()
			}
			waited := make(chan struct{})
			got := make(chan error, 1)
			go func() {
				_, rel, err := second.LockChain(ctx, chains.BTC, dsn, func() { close(waited) })
				if err == nil {
					defer rel()
				}
				got <- err
			}()
			select {
			case <-waited:
			case err := <-got:
				t.Fatalf("second locker did not wait: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("second locker neither waited nor returned")
			}
			select {
			case err := <-got:
				t.Fatalf("second locker got the lock while the first held it: %v", err)
			case <-time.After(1500 * time.Millisecond):
			}
			if held.Err() != nil {
				t.Fatal("holder's context ended while it held the lock")
			}
			// The first goes away: for MySQL like a dead process, its connection is killed.
			if driver == "mysql" {
				name, err := second.LockName(ctx, "sync_btc")
				if err != nil {
					t.Fatal(err)
				}
				var id int64
				if err := second.DB().QueryRow(`SELECT IS_USED_LOCK(?)`, name).Scan(&id); err != nil {
					t.Fatal(err)
				}
				if _, err := second.DB().Exec(`KILL ?`, id); err != nil {
					t.Fatal(err)
				}
			} else {
				release()
			}
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("second locker did not take over")
			}
			if driver == "mysql" {
				select {
				case <-held.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("the first holder was not told it lost the lock")
				}
			}
		})
	}
}

// TestSyncLocksOfTwoLedgersOnOneServer: two ipnd installations, each with
// its own database on one MySQL server, both follow their chains: the lock
// names are scoped to the database (GET_LOCK names are server-wide; a
// second installation used to stand by for ever).
func TestSyncLocksOfTwoLedgersOnOneServer(t *testing.T) {
	dsnA, dsnB := dbtest.MySQLDSN(t), dbtest.MySQLDSN(t)
	a := dbtest.Open(t, "mysql", dsnA, db.Options{})
	b := dbtest.Open(t, "mysql", dsnB, db.Options{})
	_, relA, err := a.LockChain(ctx, chains.BTC, dsnA, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer relA()
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waited := false
	_, relB, err := b.LockChain(lctx, chains.BTC, dsnB, func() { waited = true })
	if err != nil || waited {
		t.Fatalf("the second database's sync lock waited for the first's (waited %v, err %v)", waited, err)
	}
	relB()
	// Both ledgers migrate at the same time too (the migration lock).
	var wg sync.WaitGroup
	for _, l := range []*db.Ledger{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := l.Migrate(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	na, _ := a.LockName(ctx, "sync_btc")
	nb, _ := b.LockName(ctx, "sync_btc")
	if na == nb || len(na) > 64 {
		t.Fatalf("lock names %q and %q: want distinct, at most 64 characters", na, nb)
	}
}

// TestLostSyncLockFencesChainWrites: a sync process whose lock was taken
// over (MySQL: its lock connection died; SQLite: its lock file was
// removed) can no longer write the chain, even before its watch of the
// lock notices: its write fails with ErrChainLockLost and changes
// nothing, and the new holder writes on.
func TestLostSyncLockFencesChainWrites(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := dbtest.DSN(t, driver)
			first := dbtest.Open(t, driver, dsn, db.Options{})
			second := dbtest.Open(t, driver, dsn, db.Options{})
			if _, err := first.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: "addrF", DerivationIndex: u32(0)}); err != nil {
				t.Fatal(err)
			}
			_, release, err := first.LockChain(ctx, chains.BTC, dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			if _, err := first.ApplyChainUpdate(ctx, chains.BTC, connect(blk(1))); err != nil {
				t.Fatalf("holder's write: %v", err)
			}
			if driver == "mysql" {
				name, err := second.LockName(ctx, "sync_btc")
				if err != nil {
					t.Fatal(err)
				}
				var id int64
				if err := second.DB().QueryRow(`SELECT IS_USED_LOCK(?)`, name).Scan(&id); err != nil {
					t.Fatal(err)
				}
				if _, err := second.DB().Exec(`KILL ?`, id); err != nil {
					t.Fatal(err)
				}
			} else {
				path := strings.TrimPrefix(dsn, "file:")
				if i := strings.IndexByte(path, '?'); i >= 0 {
					path = path[:i]
				}
				if err := os.Remove(path + ".sync-btc.lock"); err != nil {
					t.Fatal(err)
				}
			}
			lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			_, release2, err := second.LockChain(lctx, chains.BTC, dsn, nil)
			if err != nil {
				t.Fatalf("takeover: %v", err)
			}
			defer release2()
			_, err = first.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{
				Connect: []chains.BlockPayments{{Block: blk(2), Payments: []chains.Payment{{TxID: "late", Address: "addrF", Amount: 1}}}}})
			if !errors.Is(err, ledger.ErrChainLockLost) {
				t.Fatalf("write of the process that lost the lock: %v, want ErrChainLockLost", err)
			}
			if err := first.SetStart(ctx, chains.LTC, blk(5)); err != nil {
				t.Fatalf("another chain is not fenced by btc's lock: %v", err)
			}
			if tip, _, _ := second.Tip(ctx, chains.BTC); tip != blk(1) {
				t.Fatalf("tip %+v after the fenced write", tip)
			}
			wantBalance(t, second, chains.BTC, "addrF", 0, 0, 0)
			if _, err := second.ApplyChainUpdate(ctx, chains.BTC, connect(blk(2))); err != nil {
				t.Fatalf("new holder's write: %v", err)
			}
		})
	}
}
