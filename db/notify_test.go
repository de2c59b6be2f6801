package db_test

import (
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

type pair struct{ conf, unconf uint64 }

// pendingPairs lists the totals of a subscription's notifications, oldest first.
func notes(t *testing.T, l *db.Ledger, subID int64) []ledger.Notification {
	t.Helper()
	ns, err := l.Notifications(ctx, subID, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(ns)-1; i < j; i, j = i+1, j-1 {
		ns[i], ns[j] = ns[j], ns[i]
	}
	return ns
}

func pairs(ns []ledger.Notification) []pair {
	var out []pair
	for _, n := range ns {
		out = append(out, pair{n.Confirmed, n.Unconfirmed})
	}
	return out
}

func TestNotificationsFollowTotals(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		mustAddr(t, l, chains.BTC, "addrA", 0)
		mustAddr(t, l, chains.BTC, "addrB", 1)
		if err := l.SetStart(ctx, chains.BTC, blk(10)); err != nil {
			t.Fatal(err)
		}
		sub, created, err := l.Subscribe(ctx, chains.BTC, "addrA", "http://r.example/ipn", 2, "json", "s3cret")
		if err != nil || !created {
			t.Fatalf("Subscribe = %v, %v", created, err)
		}
		if ns := notes(t, l, sub.ID); len(ns) != 0 {
			t.Fatalf("a subscription to an empty address made %d notifications", len(ns))
		}
		// Mempool: one notification (0, 500).
		if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: "t1", Address: "addrA", Amount: 500}}, nil); err != nil {
			t.Fatal(err)
		}
		// A payment to another address does not notify this subscription.
		if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: "t9", Address: "addrB", Amount: 1}}, nil); err != nil {
			t.Fatal(err)
		}
		// Mined at 11: 1 confirmation < 2, totals unchanged: no notification.
		if _, err := applyBlock(l, chains.BTC, blk(11), []chains.Payment{{TxID: "t1", Address: "addrA", Amount: 500}}); err != nil {
			t.Fatal(err)
		}
		// Block 12 brings it to 2 confirmations: (500, 0).
		ch, err := applyBlock(l, chains.BTC, blk(12), nil)
		if err != nil || ch.Notifications != 1 {
			t.Fatalf("block 12: %+v, %v; want one notification", ch, err)
		}
		mineTo(t, l, chains.BTC, 14)
		// Reorg back to 11: un-confirms it: (0, 500).
		for h := int64(14); h > 11; h-- {
			if _, err := revertBlock(l, chains.BTC, blk(h), blk(h-1), nil); err != nil {
				t.Fatal(err)
			}
		}
		// Then 11 goes too and the transaction vanished: (0, 0).
		if _, err := revertBlock(l, chains.BTC, blk(11), blk(10), nil); err != nil {
			t.Fatal(err)
		}
		got := pairs(notes(t, l, sub.ID))
		want := []pair{{0, 500}, {500, 0}, {0, 500}, {0, 0}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("notified totals %v, want %v", got, want)
		}
		// Only the newest is pending; the older ones were superseded.
		ns := notes(t, l, sub.ID)
		for i, n := range ns {
			wantState := ledger.NoteSuperseded
			if i == len(ns)-1 {
				wantState = ledger.NotePending
			}
			if n.State != wantState {
				t.Fatalf("notification %d state %s, want %s", i, n.State, wantState)
			}
		}
		// Subscribing again updates instead of duplicating; a new max_confirms
		// that changes nothing makes no notification.
		again, created, err := l.Subscribe(ctx, chains.BTC, "addrA", "http://r.example/ipn", 6, "form", "other")
		if err != nil || created || again.ID != sub.ID || again.MaxConfirms != 6 || again.Secret != "s3cret" {
			t.Fatalf("re-Subscribe = %+v, %v, %v", again, created, err)
		}
		// Redeliver makes the newest notification due: the pending one, or a
		// new one once that was delivered.
		n, err := l.Redeliver(ctx, sub.ID)
		if err != nil || n.Confirmed != 0 || n.Unconfirmed != 0 || n.ID != ns[len(ns)-1].ID {
			t.Fatalf("Redeliver = %+v, %v; want the pending notification %d", n, err, ns[len(ns)-1].ID)
		}
		claimed, err := l.ClaimDueAt(ctx, "w", time.Now(), time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %+v, %v", claimed, err)
		}
		if err := l.RecordAttempt(ctx, claimed[0], ledger.AttemptResult{Delivered: true, Status: 200}); err != nil {
			t.Fatal(err)
		}
		if n, err = l.Redeliver(ctx, sub.ID); err != nil || n.ID == claimed[0].ID || len(notes(t, l, sub.ID)) != 5 {
			t.Fatalf("Redeliver after delivery = %+v, %v; want a new notification", n, err)
		}
		if err := l.Unsubscribe(ctx, sub.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: "t2", Address: "addrA", Amount: 1}}, nil); err != nil {
			t.Fatal(err)
		}
		if len(notes(t, l, sub.ID)) != 5 {
			t.Fatal("an ended subscription was notified")
		}
		if err := l.Unsubscribe(ctx, sub.ID); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("second Unsubscribe: %v", err)
		}
	})
}

func TestSubscribeToFundedAddressNotifiesAtOnce(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		mustAddr(t, l, chains.BTC, "addrA", 0)
		if err := l.SetStart(ctx, chains.BTC, blk(10)); err != nil {
			t.Fatal(err)
		}
		if _, err := applyBlock(l, chains.BTC, blk(11), []chains.Payment{{TxID: "t1", Address: "addrA", Amount: 500}}); err != nil {
			t.Fatal(err)
		}
		sub, _, err := l.Subscribe(ctx, chains.BTC, "addrA", "http://r.example/", 1, "", "k")
		if err != nil {
			t.Fatal(err)
		}
		if got := pairs(notes(t, l, sub.ID)); fmt.Sprint(got) != fmt.Sprint([]pair{{500, 0}}) {
			t.Fatalf("notifications %v", got)
		}
		if _, _, err := l.Subscribe(ctx, chains.BTC, "unknown", "http://r.example/", 1, "", "k"); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("Subscribe to an unwatched address: %v", err)
		}
	})
}

// makeNotifications creates n subscriptions with one due notification each.
func makeNotifications(t *testing.T, l *db.Ledger, n int) {
	t.Helper()
	mustAddr(t, l, chains.BTC, "addrA", 0)
	if err := l.SetStart(ctx, chains.BTC, blk(1)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, _, err := l.Subscribe(ctx, chains.BTC, "addrA", fmt.Sprintf("http://r.example/%d", i), 1, "", "k"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: "t", Address: "addrA", Amount: 1}}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentClaimsNeverShareARow(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := dbtest.DSN(t, driver)
			setup := dbtest.Open(t, driver, dsn, db.Options{})
			const total = 60
			makeNotifications(t, setup, total)
			var mu sync.Mutex
			claimedBy := map[int64]string{}
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for w := 0; w < 3; w++ {
				l := dbtest.Open(t, driver, dsn, db.Options{}) // one process each
				owner := fmt.Sprintf("worker-%d", w)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						ns, err := l.ClaimDueAt(ctx, owner, time.Now(), time.Minute, 4)
						if err != nil {
							errs <- err
							return
						}
						if len(ns) == 0 {
							return
						}
						for _, n := range ns {
							mu.Lock()
							if prev, dup := claimedBy[n.ID]; dup {
								mu.Unlock()
								errs <- fmt.Errorf("notification %d claimed by %s and %s", n.ID, prev, owner)
								return
							}
							claimedBy[n.ID] = owner
							mu.Unlock()
							if err := l.RecordAttempt(ctx, n, ledger.AttemptResult{Delivered: true, Status: 200}); err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(claimedBy) != total {
				t.Fatalf("%d notifications delivered, want %d", len(claimedBy), total)
			}
			if n := countState(t, setup, ledger.NoteDelivered); n != total {
				t.Fatalf("%d delivered, want %d", n, total)
			}
			counts, err := setup.NotificationCounts(ctx)
			if err != nil || counts[ledger.NotePending] != 0 {
				t.Fatalf("counts = %v, %v", counts, err)
			}
		})
	}
}

func TestLeasesAndOneInFlightPerSubscription(t *testing.T) {
	var clock struct {
		sync.Mutex
		t time.Time
	}
	clock.t = time.Now()
	setClock := func(t time.Time) { clock.Lock(); clock.t = t; clock.Unlock() }
	opts := db.Options{Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.t }}
	contractWith(t, opts, func(t *testing.T, l *db.Ledger) {
		now := time.Now()
		setClock(now)
		makeNotifications(t, l, 1)
		first, err := l.ClaimDueAt(ctx, "a", now, time.Minute, 10)
		if err != nil || len(first) != 1 {
			t.Fatalf("ClaimDue = %d, %v", len(first), err)
		}
		// New totals while the first is in flight: a newer notification exists
		// but must wait until the first is settled.
		if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: "t2", Address: "addrA", Amount: 2}}, nil); err != nil {
			t.Fatal(err)
		}
		if ns, _ := l.ClaimDueAt(ctx, "b", now, time.Minute, 10); len(ns) != 0 {
			t.Fatalf("claimed %d notifications of a subscription with one in flight", len(ns))
		}
		// The first owner dies; after its lease another takes over the newest.
		later := now.Add(2 * time.Minute)
		ns, err := l.ClaimDueAt(ctx, "b", later, time.Minute, 10)
		if err != nil || len(ns) != 1 || ns[0].Unconfirmed != 3 {
			t.Fatalf("takeover claim = %+v, %v; want the newest totals (0, 3)", ns, err)
		}
		// The dead owner's late report does not touch the row it lost.
		setClock(later)
		if err := l.RecordAttempt(ctx, first[0], ledger.AttemptResult{Delivered: true}); !errors.Is(err, ledger.ErrLeaseLost) {
			t.Fatalf("late RecordAttempt: %v, want ErrLeaseLost", err)
		}
		// A failure is rescheduled, then delivered.
		retryAt := later.Add(5 * time.Second)
		if err := l.RecordAttempt(ctx, ns[0], ledger.AttemptResult{Status: 500, Error: "HTTP 500", NextAttemptAt: retryAt}); err != nil {
			t.Fatal(err)
		}
		if again, _ := l.ClaimDueAt(ctx, "b", later.Add(time.Second), time.Minute, 10); len(again) != 0 {
			t.Fatal("claimed before its next attempt time")
		}
		var next int64
		if err := l.DB().QueryRow(`SELECT MIN(next_attempt_at) FROM notifications WHERE state = ?`, ledger.NotePending).Scan(&next); err != nil ||
			!time.UnixMicro(next).Equal(retryAt.Truncate(time.Microsecond)) {
			t.Fatalf("next attempt at %v (%v); want %v", time.UnixMicro(next), err, retryAt)
		}
		again, err := l.ClaimDueAt(ctx, "b", retryAt, time.Minute, 10)
		if err != nil || len(again) != 1 || again[0].Attempts != 1 || again[0].LastStatus != 500 {
			t.Fatalf("retry claim = %+v, %v", again, err)
		}
		setClock(retryAt)
		if err := l.RecordAttempt(ctx, again[0], ledger.AttemptResult{Delivered: true, Status: 200}); err != nil {
			t.Fatal(err)
		}
		atts, err := l.Attempts(ctx, again[0].SubscriptionID, 10)
		if err != nil || len(atts) != 3 || !atts[0].Delivered || atts[1].Status != 500 {
			t.Fatalf("Attempts = %+v, %v", atts, err)
		}
		n, err := l.Notification(ctx, again[0].ID)
		if err != nil || n.State != ledger.NoteDelivered || n.DeliveredAt.IsZero() {
			t.Fatalf("Notification = %+v, %v", n, err)
		}
	})
}

func TestGiveUpMarksFailed(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		makeNotifications(t, l, 1)
		ns, err := l.ClaimDueAt(ctx, "a", time.Now(), time.Minute, 1)
		if err != nil || len(ns) != 1 {
			t.Fatal(err)
		}
		if err := l.RecordAttempt(ctx, ns[0], ledger.AttemptResult{Error: "timeout", GiveUp: true}); err != nil {
			t.Fatal(err)
		}
		counts, _ := l.NotificationCounts(ctx)
		if counts[ledger.NoteFailed] != 1 {
			t.Fatalf("counts %v", counts)
		}
		if ns, _ := l.ClaimDueAt(ctx, "a", time.Now().Add(time.Hour), time.Minute, 1); len(ns) != 0 {
			t.Fatal("a failed notification was claimed again")
		}
	})
}

func TestRecordAttemptsBatchAndDefer(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		makeNotifications(t, l, 4)
		now := time.Now()
		ns, err := l.ClaimDueAt(ctx, "w", now, time.Minute, 10)
		if err != nil || len(ns) != 4 {
			t.Fatalf("ClaimDue = %d, %v", len(ns), err)
		}
		stale := ns[3]
		stale.LeaseOwner = "someone-else"
		errs, err := l.RecordAttempts(ctx, []ledger.Notification{ns[0], ns[1], stale}, []ledger.AttemptResult{
			{Delivered: true, Status: 200}, {Status: 500, Error: "HTTP 500", NextAttemptAt: now.Add(time.Hour)}, {Delivered: true},
		})
		if err != nil || errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ledger.ErrLeaseLost) {
			t.Fatalf("RecordAttempts = %v, %v", errs, err)
		}
		// Defer hands one back without counting an attempt.
		if err := l.Defer(ctx, ns[2], -time.Second); err != nil {
			t.Fatal(err)
		}
		again, err := l.ClaimDueAt(ctx, "w2", now, time.Minute, 10)
		if err != nil || len(again) != 1 || again[0].ID != ns[2].ID || again[0].Attempts != 0 {
			t.Fatalf("claim after Defer = %+v, %v", again, err)
		}
		counts, _ := l.NotificationCounts(ctx)
		if countState(t, l, ledger.NoteDelivered) != 1 || counts[ledger.NotePending] != 3 {
			t.Fatalf("counts %v", counts)
		}
	})
}

// TestUnlockTimeCrossingNotifies: a Monero deposit locked until height 60
// turns confirmed, with an IPN, at the write whose tip reaches the lock, and
// not before; deep history outside the crossing windows is not rescanned.
func TestUnlockTimeCrossingNotifies(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: "8sub", AccountIndex: u32(0), SubaddressIndex: u32(1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(50), 40, nil); err != nil {
			t.Fatal(err)
		}
		sub, _, err := l.Subscribe(ctx, chains.XMR, "8sub", "http://r.example/", 1, "", "k")
		if err != nil {
			t.Fatal(err)
		}
		seen := []chains.Payment{{TxID: "locked", Address: "8sub", Amount: 10, Height: 50, UnlockTime: 60}}
		for tip := int64(51); tip <= 60; tip++ {
			if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(tip), tip-10, seen); err != nil {
				t.Fatal(err)
			}
		}
		got := pairs(notes(t, l, sub.ID))
		if want := []pair{{0, 10}, {10, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("notified %v, want %v", got, want)
		}
		ns := notes(t, l, sub.ID)
		if ns[1].Height != 59 {
			t.Fatalf("unlocked at tip %d, want 59 (tip+1 reaches unlock_time 60)", ns[1].Height)
		}
	})
}

// countState counts notifications in state with a query of its own
// (NotificationCounts leaves the unbounded states out).
func countState(t *testing.T, l *db.Ledger, state string) int {
	t.Helper()
	var n int
	if err := l.DB().QueryRow(`SELECT COUNT(*) FROM notifications WHERE state = ?`, state).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
