package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
)

// lockedDaemon is the part of a daemon runLocked needs, on a real ledger.
func lockedDaemon(t *testing.T, driver string) (*daemon, string) {
	dsn := dbtest.DSN(t, driver)
	l := dbtest.Open(t, driver, dsn, db.Options{})
	cfg := config.Default()
	cfg.Database.Driver, cfg.Database.DSN = driver, config.Secret(dsn)
	return &daemon{cfg: cfg, ledger: l, log: slog.New(slog.DiscardHandler), progress: newProgress()}, dsn
}

func syncedStatus() chains.Status {
	return chains.Status{State: chains.Synced, Height: 1, NodeHeight: 1}
}

// returnsWithin runs f and fails unless it returns within d.
func returnsWithin(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("runLocked did not return within %s", d)
		return nil
	}
}

// TestRunLockedReturnsPromptly: a sync role holding its chain's lock
// returns at once when its watcher fails while the lock is still held (it
// used to wait for ever for the heartbeat, which only stopped with the
// lock), when ctx ends, and when the lock is lost (MySQL: its connection
// killed).
func TestRunLockedReturnsPromptly(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver+"/watcher fails", func(t *testing.T) {
			d, _ := lockedDaemon(t, driver)
			boom := errors.New("watcher failed")
			role := d.runLocked(chains.BTC, func(context.Context) error { return boom }, syncedStatus)
			if err := returnsWithin(t, 5*time.Second, func() error { return role(context.Background()) }); !errors.Is(err, boom) {
				t.Fatalf("runLocked: %v, want the watcher's error", err)
			}
		})
		t.Run(driver+"/ctx ends", func(t *testing.T) {
			d, _ := lockedDaemon(t, driver)
			ctx, cancel := context.WithCancel(context.Background())
			started := make(chan struct{})
			role := d.runLocked(chains.BTC, func(ctx context.Context) error {
				close(started)
				<-ctx.Done()
				return nil
			}, syncedStatus)
			err := returnsWithin(t, 10*time.Second, func() error {
				go func() { <-started; cancel() }()
				return role(ctx)
			})
			if err != nil {
				t.Fatalf("runLocked after ctx ended: %v, want nil", err)
			}
		})
	}
	t.Run("mysql/lock lost", func(t *testing.T) {
		d, dsn := lockedDaemon(t, "mysql")
		started := make(chan struct{})
		role := d.runLocked(chains.BTC, func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return nil
		}, syncedStatus)
		err := returnsWithin(t, 15*time.Second, func() error {
			go func() {
				<-started
				killLockHolder(t, dsn)
			}()
			return role(context.Background())
		})
		if err == nil || !strings.Contains(err.Error(), "sync lock lost") {
			t.Fatalf("runLocked after the lock's connection was killed: %v, want sync lock lost", err)
		}
	})
}

// killLockHolder kills the MySQL connection holding chain btc's sync lock
// of the test database's ledger (db.lockName's name).
func killLockHolder(t *testing.T, dsn string) {
	conn, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	var name string
	if err := conn.QueryRow(`SELECT DATABASE()`).Scan(&name); err != nil {
		t.Error(err)
		return
	}
	sum := sha256.Sum256([]byte(name))
	var holder sql.NullInt64
	if err := conn.QueryRow(`SELECT IS_USED_LOCK(?)`, "ipnd_sync_btc_"+hex.EncodeToString(sum[:20])).Scan(&holder); err != nil || !holder.Valid {
		t.Errorf("no holder of the sync lock: %v", err)
		return
	}
	if _, err := conn.Exec(`KILL CONNECTION ?`, holder.Int64); err != nil {
		t.Error(err)
	}
}
