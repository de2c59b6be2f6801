package db_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

// TestRecordAttemptsWithAGoneNotification: one notification of a batch
// was deleted while its attempt was in flight; its outcome is
// ErrLeaseLost and every other outcome of the batch is recorded.
func TestRecordAttemptsWithAGoneNotification(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		makeNotifications(t, l, 3)
		now := time.Now()
		ns, err := l.ClaimDueAt(ctx, "w", now, time.Minute, 10)
		if err != nil || len(ns) != 3 {
			t.Fatalf("ClaimDue = %d, %v", len(ns), err)
		}
		if _, err := l.DB().Exec(`DELETE FROM notifications WHERE id = ?`, ns[1].ID); err != nil {
			t.Fatal(err)
		}
		errs, err := l.RecordAttempts(ctx, ns, []ledger.AttemptResult{
			{Delivered: true, Status: 200}, {Delivered: true, Status: 200}, {Status: 500, Error: "HTTP 500", RetryAfter: time.Hour},
		})
		if err != nil {
			t.Fatalf("RecordAttempts failed as a whole: %v", err)
		}
		if errs[0] != nil || !errors.Is(errs[1], ledger.ErrLeaseLost) || errs[2] != nil {
			t.Fatalf("errs %v", errs)
		}
		if n, err := l.Notification(ctx, ns[0].ID); err != nil || n.State != ledger.NoteDelivered {
			t.Fatalf("first: %+v %v", n, err)
		}
		if n, err := l.Notification(ctx, ns[2].ID); err != nil || n.Attempts != 1 || n.LastStatus != 500 {
			t.Fatalf("third: %+v %v", n, err)
		}
	})
}

// TestPruneKeepsLeasedNotifications: a notification superseded while its
// attempt is in flight is old enough for retention, but it is leased:
// Prune keeps it and its attempts, and the worker's outcome is recorded.
// Once the lease has ended it goes.
func TestPruneKeepsLeasedNotifications(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		mustAddr(t, l, chains.BTC, "addrL", 0)
		sub, _, err := l.Subscribe(ctx, chains.BTC, "addrL", "http://r.example/l", 0, "", "k")
		if err != nil {
			t.Fatal(err)
		}
		pay := func(txid string) {
			t.Helper()
			if _, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{Mempool: []chains.Payment{{TxID: txid, Address: "addrL", Amount: 1}}}); err != nil {
				t.Fatal(err)
			}
		}
		pay("l1")
		n := claimOne(t, l, l.Now())
		if err := l.RecordAttempt(ctx, n, ledger.AttemptResult{Status: 500, Error: "HTTP 500"}); err != nil {
			t.Fatal(err)
		}
		n = claimOne(t, l, l.Now()) // the retry, in flight
		pay("l2")                   // supersedes it
		if got, _ := l.Notification(ctx, n.ID); got.State != ledger.NoteSuperseded {
			t.Fatalf("state %s, want superseded", got.State)
		}
		future := l.Now().Add(time.Hour) // everything is older than the cutoff
		p, err := l.Prune(ctx, future, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Notifications != 0 || p.Attempts != 0 {
			t.Fatalf("pruned %+v while the notification is leased", p)
		}
		if err := l.RecordAttempt(ctx, n, ledger.AttemptResult{Delivered: true, Status: 200}); err != nil {
			t.Fatalf("the worker's outcome: %v", err)
		}
		p, err = l.Prune(ctx, future, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Notifications != 1 || p.Attempts != 2 {
			t.Fatalf("pruned %+v after the lease ended, want the notification and its 2 attempts", p)
		}
		if _, err := l.Subscription(ctx, sub.ID); err != nil {
			t.Fatal(err)
		}
	})
}
