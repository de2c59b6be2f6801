package db_test

import (
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
				var id int64
				if err := second.DB().QueryRow(`SELECT IS_USED_LOCK('ipnd_sync_btc')`).Scan(&id); err != nil {
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
