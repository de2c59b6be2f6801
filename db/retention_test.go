package db_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

// TestRetentionDeletesOldDeliveriesKeepsNewest: notifications delivered or
// superseded before the cutoff go, with old attempts; the newest
// notification of every subscription stays, and so does anything pending
// or failed. Nothing was ever deleted before (issue 13).
func TestRetentionDeletesOldDeliveriesKeepsNewest(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().Add(-60 * 24 * time.Hour)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	contractWith(t, db.Options{Now: clock}, func(t *testing.T, l *db.Ledger) {
		for i, a := range []string{"addrA", "addrB", "addrC"} {
			mustAddr(t, l, chains.BTC, a, uint32(i))
		}
		if err := l.SetStart(ctx, chains.BTC, blk(1)); err != nil {
			t.Fatal(err)
		}
		subs := map[string]int64{}
		for _, a := range []string{"addrA", "addrB", "addrC"} {
			s, _, err := l.Subscribe(ctx, chains.BTC, a, "http://r.example/"+a, 0, "", "k")
			if err != nil {
				t.Fatal(err)
			}
			subs[a] = s.ID
		}
		deliverAll := func() {
			t.Helper()
			ns, err := l.ClaimDueAt(ctx, "w", clock(), time.Minute, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range ns {
				if err := l.RecordAttempt(ctx, n, ledger.AttemptResult{Delivered: true, Status: 200}); err != nil {
					t.Fatal(err)
				}
			}
		}
		pay := func(addr, txid string) {
			t.Helper()
			if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: txid, Address: addr, Amount: 1}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		// 40 days ago: A gets two payments, both delivered; B one, delivered;
		// C two in a row, the first superseded before delivery, the second
		// failing (pending).
		pay("addrA", "a1")
		deliverAll()
		pay("addrA", "a2")
		deliverAll()
		pay("addrB", "b1")
		deliverAll()
		pay("addrC", "c1")
		pay("addrC", "c2")
		ns, err := l.ClaimDueAt(ctx, "w", clock(), time.Minute, 100)
		if err != nil || len(ns) != 1 {
			t.Fatalf("claim = %v, %v", ns, err)
		}
		if err := l.RecordAttempt(ctx, ns[0], ledger.AttemptResult{Error: "down", RetryAfter: 1000 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		advance(40 * 24 * time.Hour)
		// Today: B gets another, delivered.
		pay("addrB", "b2")
		deliverAll()
		total, err := l.PruneOlderThan(ctx, clock().Add(-30*24*time.Hour), 1, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		left := map[string][]string{}
		for a, id := range subs {
			for _, n := range notes(t, l, id) {
				left[a] = append(left[a], n.State)
			}
		}
		want := map[string][]string{
			"addrA": {ledger.NoteDelivered}, // the old first delivery goes, the newest stays
			"addrB": {ledger.NoteDelivered}, // both old: only today's stays
			"addrC": {ledger.NotePending},   // superseded goes, the failing one stays
		}
		for a, w := range want {
			if len(left[a]) != len(w) || left[a][0] != w[0] {
				t.Fatalf("%s keeps %v, want %v (all: %v)", a, left[a], w, left)
			}
		}
		if total.Notifications != 3 {
			t.Fatalf("pruned %d notifications, want 3", total.Notifications)
		}
		var attempts int
		if err := l.DB().QueryRow(`SELECT COUNT(*) FROM delivery_attempts`).Scan(&attempts); err != nil || attempts != 1 {
			t.Fatalf("%d attempts left (%v), want today's one (pruned %d)", attempts, err, total.Attempts)
		}
	})
}
