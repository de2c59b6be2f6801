package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
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
