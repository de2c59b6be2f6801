package db_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ledger"
)

// claimOne claims the one due notification at now.
func claimOne(t *testing.T, l *db.Ledger, now time.Time) ledger.Notification {
	t.Helper()
	ns, err := l.ClaimDueAt(ctx, "w", now, time.Minute, 10)
	if err != nil || len(ns) != 1 {
		t.Fatalf("claim at %v = %+v, %v; want one", now, ns, err)
	}
	return ns[0]
}

// TestRedeliverEndsBackOff: after a failure scheduled an hour out,
// redeliver makes the notification due now (issue 13: it answered success
// and nothing could be claimed for an hour).
func TestRedeliverEndsBackOff(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		makeNotifications(t, l, 1)
		n := claimOne(t, l, l.Now())
		if err := l.RecordAttempt(ctx, n, ledger.AttemptResult{Status: 503, Error: "HTTP 503", RetryAfter: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if ns, _ := l.ClaimDueAt(ctx, "w", l.Now(), time.Minute, 10); len(ns) != 0 {
			t.Fatal("claimed during the back-off")
		}
		r, err := l.Redeliver(ctx, n.SubscriptionID)
		if err != nil || r.ID != n.ID {
			t.Fatalf("Redeliver = %+v, %v; want notification %d again", r, err, n.ID)
		}
		again := claimOne(t, l, l.Now())
		if again.ID != n.ID || again.Attempts != 1 {
			t.Fatalf("claimed %+v; want notification %d with its attempt", again, n.ID)
		}
	})
}

// TestAcknowledgementCatchesUpItsEndpoint: a receiver that failed and
// comes back gets its notifications waiting in back-off due at once, at
// most CatchUp per acknowledgement; another receiver's back-off stays.
func TestAcknowledgementCatchesUpItsEndpoint(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		for i := range 5 {
			mustAddr(t, l, chains.BTC, "addr"+string(rune('A'+i)), uint32(i))
		}
		if err := l.SetStart(ctx, chains.BTC, blk(1)); err != nil {
			t.Fatal(err)
		}
		url, other := "http://shop.example/ipn", "http://other.example/ipn"
		for _, a := range []string{"addrA", "addrB", "addrC"} {
			if _, _, err := l.Subscribe(ctx, chains.BTC, a, url, 1, "", "k"); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := l.Subscribe(ctx, chains.BTC, "addrE", other, 1, "", "k2"); err != nil {
			t.Fatal(err)
		}
		pay := func(addr, txid string) {
			t.Helper()
			if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: txid, Address: addr, Amount: 1}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range []string{"addrA", "addrB", "addrC", "addrE"} {
			pay(a, "t"+a)
		}
		// Every receiver is down: four failures, an hour of back-off each.
		ns, err := l.ClaimDueAt(ctx, "w", l.Now(), time.Minute, 10)
		if err != nil || len(ns) != 4 {
			t.Fatalf("claim = %d, %v", len(ns), err)
		}
		res := make([]ledger.AttemptResult, len(ns))
		for i := range res {
			res[i] = ledger.AttemptResult{Error: "connection refused", RetryAfter: time.Hour}
		}
		if _, err := l.RecordAttempts(ctx, ns, res); err != nil {
			t.Fatal(err)
		}
		// The shop comes back: a new subscription's first IPN is acknowledged.
		if _, _, err := l.Subscribe(ctx, chains.BTC, "addrD", url, 1, "", "k"); err != nil {
			t.Fatal(err)
		}
		pay("addrD", "taddrD")
		d := claimOne(t, l, l.Now())
		if !d.EndpointFailing {
			t.Fatal("the claim does not say the endpoint has been failing")
		}
		if err := l.RecordAttempt(ctx, d, ledger.AttemptResult{Delivered: true, Status: 200, CatchUp: 2}); err != nil {
			t.Fatal(err)
		}
		woken, err := l.ClaimDueAt(ctx, "w", l.Now(), time.Minute, 10)
		if err != nil || len(woken) != 2 {
			t.Fatalf("after the acknowledgement %d notifications are due (%v), want 2 (CatchUp)", len(woken), err)
		}
		for _, n := range woken {
			if n.URL != url {
				t.Fatalf("another receiver's back-off ended: %s", n.URL)
			}
		}
		if _, err := l.RecordAttempts(ctx, woken, []ledger.AttemptResult{
			{Delivered: true, Status: 200, CatchUp: 2}, {Delivered: true, Status: 200, CatchUp: 2}}); err != nil {
			t.Fatal(err)
		}
		last := claimOne(t, l, l.Now())
		if last.URL != url {
			t.Fatalf("claimed %s, want the shop's last notification", last.URL)
		}
		if err := l.RecordAttempt(ctx, last, ledger.AttemptResult{Delivered: true, Status: 200, CatchUp: 2}); err != nil {
			t.Fatal(err)
		}
		if e, err := l.Endpoint(ctx, url); err != nil || e.Subscriptions != 4 {
			t.Fatalf("Endpoint = %+v, %v", e, err)
		}
		var failing int
		if err := l.DB().QueryRow(`SELECT failing FROM endpoints WHERE url = ?`, url).Scan(&failing); err != nil || failing != 0 {
			t.Fatalf("endpoint still marked failing (%d, %v) after catching up", failing, err)
		}
		if ns, _ := l.ClaimDueAt(ctx, "w", l.Now(), time.Minute, 10); len(ns) != 0 {
			t.Fatalf("%d due; the other receiver should still be in back-off", len(ns))
		}
	})
}

// TestLeasesFollowTheDatabaseClock: a process whose own clock is two hours
// ahead neither takes over a lease that has not run out nor schedules
// retries on its own clock: the ledger's times come from the database.
func TestLeasesFollowTheDatabaseClock(t *testing.T) {
	dsn := dbtest.MySQLDSN(t)
	honest := dbtest.Open(t, "mysql", dsn, db.Options{})
	makeNotifications(t, honest, 1)
	n, err := honest.ClaimDue(ctx, "honest", time.Minute, 10)
	if err != nil || len(n) != 1 {
		t.Fatalf("claim = %v, %v", n, err)
	}
	restore := db.SkewLocalClock(2 * time.Hour)
	skewed := dbtest.Open(t, "mysql", dsn, db.Options{})
	restore()
	if d := skewed.Now().Sub(honest.Now()); d > 5*time.Second || d < -5*time.Second {
		t.Fatalf("the skewed process's ledger clock is %v off the database's", d)
	}
	if got, err := skewed.ClaimDue(ctx, "skewed", time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("the skewed process took %d notifications whose lease runs for a minute (%v)", len(got), err)
	}
	if off := skewed.ClockOffset(); off > -time.Hour {
		t.Fatalf("ClockOffset = %v; want about -2h", off)
	}
}

// TestHeartbeats: the sync role's heartbeat is read back with its age on
// the ledger's clock.
func TestHeartbeats(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	contractWith(t, db.Options{Now: clock}, func(t *testing.T, l *db.Ledger) {
		if hb, err := l.Heartbeats(ctx); err != nil || len(hb) != 0 {
			t.Fatalf("Heartbeats of a new ledger = %v, %v", hb, err)
		}
		for _, h := range []int64{5, 6} {
			if err := l.Beat(ctx, "host-1", chains.Status{Chain: chains.BTC, State: chains.Synced, Height: h, NodeHeight: 6}); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		now = now.Add(40 * time.Second)
		mu.Unlock()
		hb, err := l.Heartbeats(ctx)
		b := hb[chains.BTC]
		if err != nil || len(hb) != 1 || b.Height != 6 || b.State != "synced" || b.Owner != "host-1" || b.Age.Round(time.Millisecond) != 40*time.Second {
			t.Fatalf("Heartbeats = %+v, %v", hb, err)
		}
	})
}
