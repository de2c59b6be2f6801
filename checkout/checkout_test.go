package checkout

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ledger"
)

// memStore is a unit-test stand-in for the ledger.
type memStore struct {
	mu    sync.Mutex
	inv   map[string]invoice.Invoice
	reads int
}

func (m *memStore) Invoice(_ context.Context, id string) (invoice.Invoice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	inv, ok := m.inv[id]
	if !ok {
		return invoice.Invoice{}, fmt.Errorf("invoice: %w", ledger.ErrNotFound)
	}
	return inv, nil
}

func (m *memStore) set(inv invoice.Invoice) {
	m.mu.Lock()
	m.inv[inv.ID] = inv
	m.mu.Unlock()
}

func sample(now time.Time) invoice.Invoice {
	p := invoice.Params{Chain: chains.BTC, AmountAtomic: 150_000, ExpiresIn: 15 * time.Minute, MaxConfirms: 2, Description: "tea"}
	return invoice.New(p, invoice.NewID(), "bcrt1qexample", now)
}

func TestStates(t *testing.T) {
	now := time.Now()
	inv := sample(now)
	for _, tc := range []struct {
		mod     func(*invoice.Invoice)
		shown   string
		payable bool
		due     string
	}{
		{func(*invoice.Invoice) {}, shownWaiting, true, "0.0015 BTC"},
		{func(i *invoice.Invoice) { i.PendingAtomic, i.DueAtomic = 50_000, 100_000 }, shownWaiting, true, "0.001 BTC"},
		{func(i *invoice.Invoice) {
			i.Status, i.PendingAtomic, i.DueAtomic = invoice.StatusProcessing, 150_000, 0
		}, shownSeen, false, ""},
		{func(i *invoice.Invoice) { i.Status, i.PaidAtomic, i.DueAtomic = invoice.StatusPaid, 150_000, 0 }, shownConfirmed, false, ""},
		{func(i *invoice.Invoice) {
			i.Status, i.PaidAtomic, i.DueAtomic, i.ExcessAtomic = invoice.StatusOverpaid, 160_000, 0, 10_000
		}, shownConfirmed, false, ""},
		{func(i *invoice.Invoice) { i.Status = invoice.StatusExpired }, shownExpired, false, ""},
		{func(i *invoice.Invoice) { i.Status, i.PaidAtomic, i.DueAtomic = invoice.StatusUnderpaid, 1, 149_999 }, shownUnderpaid, false, "0.00149999 BTC"},
		{func(i *invoice.Invoice) { i.Status = invoice.StatusLate }, shownLate, false, ""},
		{func(i *invoice.Invoice) { i.Status = invoice.StatusReversed }, shownReversed, false, ""},
		{func(i *invoice.Invoice) { i.Status = invoice.StatusCancelled }, shownCancelled, false, ""},
	} {
		i := inv
		tc.mod(&i)
		st := stateOf(i, inv.CreatedAt.Add(time.Minute))
		if st.Status != tc.shown || st.Payable != tc.payable || st.Due != tc.due || st.Title == "" || st.Detail == "" {
			t.Errorf("%s: %+v, want %s payable %v due %q", i.Status, st, tc.shown, tc.payable, tc.due)
		}
		if tc.payable && st.ExpiresInMS != 14*60*1000 {
			t.Errorf("%s: expires in %d ms", i.Status, st.ExpiresInMS)
		}
	}
	if st := stateOf(inv, inv.ExpiresAt.Add(time.Hour)); st.ExpiresInMS != 0 {
		t.Errorf("time left after expiry: %d", st.ExpiresInMS)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(60, func() time.Time { return now })
	for i := range 60 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("past the burst: %v, wait %v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another client refused")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("a second later, one more request refused")
	}
	if ok, _ := l.allow("a"); ok {
		t.Fatal("two requests in that second allowed")
	}
	if ok, _ := (*limiter)(nil).allow("x"); !ok {
		t.Fatal("no limit refused")
	}
}

// The event stream sends the state at once, then only when what the page
// shows changes (not for the time left), until the client goes away.
func TestEventStream(t *testing.T) {
	store := &memStore{inv: map[string]invoice.Invoice{}}
	inv := sample(time.Now())
	store.set(inv)
	c, err := New(Options{Store: store, Refresh: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/pay/"+inv.ID+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan state, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var st state
				if json.Unmarshal([]byte(data), &st) == nil {
					events <- st
				}
			}
		}
		close(events)
	}()
	next := func() state {
		select {
		case st, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			return st
		case <-ctx.Done():
			t.Fatal("no event")
		}
		return state{}
	}
	if st := next(); st.Status != shownWaiting {
		t.Fatalf("first event %+v", st)
	}
	// Several refreshes later the countdown alone has made no event.
	store.mu.Lock()
	target := store.reads + 5
	store.mu.Unlock()
	for {
		store.mu.Lock()
		n := store.reads
		store.mu.Unlock()
		if n >= target {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the stream does not read the invoice")
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case st := <-events:
		t.Fatalf("an event without a change: %+v", st)
	default:
	}
	inv.Status, inv.PendingAtomic, inv.DueAtomic = invoice.StatusProcessing, inv.AmountAtomic, 0
	store.set(inv)
	if st := next(); st.Status != shownSeen {
		t.Fatalf("after the payment: %+v", st)
	}
	c.Close()
	for range events { // Close ends the stream
	}
}

// A client holds at most MaxStreamsPerClient streams.
func TestStreamLimit(t *testing.T) {
	store := &memStore{inv: map[string]invoice.Invoice{}}
	inv := sample(time.Now())
	store.set(inv)
	c, _ := New(Options{Store: store, MaxStreamsPerClient: 1})
	srv := httptest.NewServer(c)
	defer srv.Close()
	defer c.Close()
	first, err := http.Get(srv.URL + "/pay/" + inv.ID + "/events")
	if err != nil || first.StatusCode != 200 {
		t.Fatalf("first stream: %v %v", first, err)
	}
	defer first.Body.Close()
	second, err := http.Get(srv.URL + "/pay/" + inv.ID + "/events")
	if err != nil || second.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second stream: %v %v", second, err)
	}
	second.Body.Close()
}
