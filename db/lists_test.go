package db_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

// listFixture is a ledger with addresses, subscriptions and notifications in
// every delivery state.
type listFixture struct {
	subs map[string]int64 // by address
	// failing, acknowledged, pending and ended subscriptions by address.
	failing, acked, pending []string
	ended                   string
}

const (
	shopURL      = "https://shop.example/ipn"
	shopUpperURL = "https://shop.example/IPN" // another endpoint: paths are case-sensitive
	shop2URL     = "https://shop.example/ipn2"
	otherURL     = "https://other.example/hook"
)

func newListFixture(t *testing.T, l *db.Ledger) listFixture {
	t.Helper()
	f := listFixture{subs: map[string]int64{}}
	labels := map[string]string{"addrA": "order 1", "addrB": "order 2", "addrC": "Order 10", "addrD": "100%_off",
		"addrE": "1000 coins", "addrF": "", "addrG": "order 3"}
	urls := map[string]string{"addrA": shopURL, "addrB": shopURL, "addrC": shopUpperURL, "addrD": shop2URL,
		"addrE": otherURL, "addrF": otherURL, "addrG": shopURL}
	for i, a := range []string{"addrA", "addrB", "addrC", "addrD", "addrE", "addrF", "addrG"} {
		if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: a, DerivationIndex: u32(uint32(i)), Label: labels[a]}); err != nil {
			t.Fatal(err)
		}
	}
	acc, sub := uint32(0), uint32(1)
	if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: "xmrA", AccountIndex: &acc, SubaddressIndex: &sub, Label: "order 4"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetStart(ctx, chains.BTC, blk(1)); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"addrA", "addrB", "addrC", "addrD", "addrE", "addrF", "addrG"} {
		s, _, err := l.Subscribe(ctx, chains.BTC, a, urls[a], 1, "", "k-"+a)
		if err != nil {
			t.Fatal(err)
		}
		f.subs[a] = s.ID
	}
	var ps []chains.Payment
	for _, a := range []string{"addrA", "addrB", "addrC", "addrD", "addrE", "addrF", "addrG"} {
		ps = append(ps, chains.Payment{TxID: "tx" + a, Address: a, Amount: 1000})
	}
	if _, err := applyMempool(l, chains.BTC, ps, nil); err != nil {
		t.Fatal(err)
	}
	ns, err := l.ClaimDueAt(ctx, "w", l.Now(), time.Minute, 20)
	if err != nil || len(ns) != 7 {
		t.Fatalf("claim: %d, %v", len(ns), err)
	}
	for _, n := range ns {
		var res ledger.AttemptResult
		switch n.Address {
		case "addrA", "addrE": // acknowledged
			res = ledger.AttemptResult{Delivered: true, Status: 200}
		case "addrB", "addrC": // failing, in back-off
			res = ledger.AttemptResult{Status: 500, Error: "HTTP 500", RetryAfter: time.Hour}
		case "addrD": // given up
			res = ledger.AttemptResult{Status: 404, Error: "HTTP 404", GiveUp: true, RetryAfter: time.Hour}
		default: // addrF, addrG: handed back untried (pending, no attempt)
			if err := l.Defer(ctx, n, 0); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := l.RecordAttempt(ctx, n, res); err != nil {
			t.Fatal(err)
		}
	}
	f.acked, f.failing, f.pending = []string{"addrA", "addrE"}, []string{"addrB", "addrC", "addrD"}, []string{"addrF"}
	// addrG's subscription ends: its pending notification is superseded.
	if err := l.Unsubscribe(ctx, f.subs["addrG"]); err != nil {
		t.Fatal(err)
	}
	f.ended = "addrG"
	return f
}

// all pages through a list with limit per page and checks that every page
// but the last is full.
func all[T any](t *testing.T, limit int, list func(c ledger.Cursor) (ledger.Page[T], error)) []T {
	t.Helper()
	var out []T
	c := ledger.Cursor{Limit: limit}
	for pages := 0; ; pages++ {
		p, err := list(c)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		out = append(out, p.Items...)
		if p.Next == "" {
			return out
		}
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		c.After = p.Next
	}
}

func addrNames(as []chains.Address) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Address)
	}
	return out
}

func subNames(ss []ledger.SubscriptionView) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Address)
	}
	return out
}

// TestListQueries: every list, filter and page boundary on both backends.
func TestListQueries(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		f := newListFixture(t, l)
		addrs := func(q ledger.AddressQuery, limit int) []string {
			t.Helper()
			return addrNames(all(t, limit, func(c ledger.Cursor) (ledger.Page[chains.Address], error) {
				q.Cursor = c
				return l.ListAddresses(ctx, q)
			}))
		}
		for _, tc := range []struct {
			q    ledger.AddressQuery
			want string
		}{
			{ledger.AddressQuery{}, "xmrA addrG addrF addrE addrD addrC addrB addrA"},
			{ledger.AddressQuery{Chain: chains.XMR}, "xmrA"},
			{ledger.AddressQuery{Label: "order"}, "xmrA addrG addrC addrB addrA"}, // labels by prefix, case-insensitively
			{ledger.AddressQuery{Label: "100%"}, "addrD"},                         // LIKE's wildcards are literal
			{ledger.AddressQuery{Label: "1_0"}, ""},
			{ledger.AddressQuery{Address: "addrC"}, "addrC"},
			{ledger.AddressQuery{Address: "addrc"}, ""}, // addresses compare exactly
			{ledger.AddressQuery{Search: "addrB"}, "addrB"},
			{ledger.AddressQuery{Search: "Order 1"}, "addrC addrA"},
			{ledger.AddressQuery{Chain: chains.XMR, Search: "order"}, "xmrA"},
		} {
			for _, limit := range []int{1, 3, 500} {
				if got := strings.Join(addrs(tc.q, limit), " "); got != tc.want {
					t.Errorf("addresses %+v (pages of %d) = %q, want %q", tc.q, limit, got, tc.want)
				}
			}
		}

		subs := func(q ledger.SubscriptionQuery, limit int) []ledger.SubscriptionView {
			t.Helper()
			return all(t, limit, func(c ledger.Cursor) (ledger.Page[ledger.SubscriptionView], error) {
				q.Cursor = c
				return l.ListSubscriptions(ctx, q)
			})
		}
		for _, tc := range []struct {
			q    ledger.SubscriptionQuery
			want string
		}{
			{ledger.SubscriptionQuery{}, "addrG addrF addrE addrD addrC addrB addrA"},
			{ledger.SubscriptionQuery{State: ledger.ActiveSubscriptions}, "addrF addrE addrD addrC addrB addrA"},
			{ledger.SubscriptionQuery{State: ledger.FailingSubscriptions}, "addrD addrC addrB"},
			{ledger.SubscriptionQuery{State: ledger.EndedSubscriptions}, "addrG"},
			{ledger.SubscriptionQuery{URL: shopURL}, "addrG addrB addrA"},
			{ledger.SubscriptionQuery{URLPrefix: shopURL}, "addrG addrD addrB addrA"}, // not .../IPN
			{ledger.SubscriptionQuery{URLPrefix: "https://shop.example/", State: ledger.FailingSubscriptions}, "addrD addrC addrB"},
			{ledger.SubscriptionQuery{Label: "order", State: ledger.ActiveSubscriptions}, "addrC addrB addrA"},
			{ledger.SubscriptionQuery{Address: "addrE"}, "addrE"},
			{ledger.SubscriptionQuery{Chain: chains.XMR}, ""},
		} {
			for _, limit := range []int{1, 2, 500} {
				if got := strings.Join(subNames(subs(tc.q, limit)), " "); got != tc.want {
					t.Errorf("subscriptions %+v (pages of %d) = %q, want %q", tc.q, limit, got, tc.want)
				}
			}
		}
		for _, s := range subs(ledger.SubscriptionQuery{}, 500) {
			n := s.Newest
			want := map[string]bool{"addrB": true, "addrC": true, "addrD": true}[s.Address]
			if n.ID == 0 || n.SubscriptionID != s.ID || n.Failing() != want || n.Address != s.Address || n.Confirmed+n.Unconfirmed != 1000 {
				t.Errorf("%s: newest notification %+v (failing %v, want %v)", s.Address, n, n.Failing(), want)
			}
			if (n.Attempts > 0) != !n.LastAttemptAt.IsZero() {
				t.Errorf("%s: %d attempts, last at %v", s.Address, n.Attempts, n.LastAttemptAt)
			}
		}
		a, err := l.SubscriptionByID(ctx, f.subs["addrC"])
		if err != nil || a.Label != "Order 10" || a.URL != shopUpperURL || !a.Active || a.Newest.LastStatus != 500 || a.Newest.LastError != "HTTP 500" {
			t.Errorf("SubscriptionByID = %+v, %v", a, err)
		}
		if g, err := l.SubscriptionByID(ctx, f.subs["addrG"]); err != nil || g.Active || g.Newest.State != ledger.NoteSuperseded {
			t.Errorf("ended subscription = %+v, %v", g, err)
		}
		if _, err := l.SubscriptionByID(ctx, 999999); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("unknown subscription: %v", err)
		}

		notes := func(q ledger.NotificationQuery, limit int) string {
			t.Helper()
			var out []string
			for _, n := range all(t, limit, func(c ledger.Cursor) (ledger.Page[ledger.NotificationView], error) {
				q.Cursor = c
				return l.ListNotifications(ctx, q)
			}) {
				out = append(out, n.Address+"/"+n.State)
			}
			return strings.Join(out, " ")
		}
		for _, tc := range []struct {
			q    ledger.NotificationQuery
			want string
		}{
			{ledger.NotificationQuery{}, "addrD/failed addrC/pending addrB/pending " +
				"addrG/superseded addrF/pending addrE/delivered addrA/delivered"},
			{ledger.NotificationQuery{Failing: true}, "addrD/failed addrC/pending addrB/pending"},
			{ledger.NotificationQuery{State: ledger.NotePending}, "addrC/pending addrB/pending addrF/pending"},
			{ledger.NotificationQuery{State: ledger.NoteDelivered}, "addrE/delivered addrA/delivered"},
			{ledger.NotificationQuery{SubscriptionID: f.subs["addrB"]}, "addrB/pending"},
			{ledger.NotificationQuery{Address: "addrE"}, "addrE/delivered"},
			{ledger.NotificationQuery{Label: "order"}, "addrC/pending addrB/pending addrG/superseded addrA/delivered"},
			{ledger.NotificationQuery{Chain: chains.XMR}, ""},
		} {
			for _, limit := range []int{1, 2, 3, 500} {
				if got := notes(tc.q, limit); got != tc.want {
					t.Errorf("notifications %+v (pages of %d) = %q, want %q", tc.q, limit, got, tc.want)
				}
			}
		}

		eps := func(q ledger.EndpointQuery, limit int) []ledger.EndpointView {
			return all(t, limit, func(c ledger.Cursor) (ledger.Page[ledger.EndpointView], error) {
				q.Cursor = c
				return l.ListEndpoints(ctx, q)
			})
		}
		show := func(es []ledger.EndpointView) string {
			var out []string
			for _, e := range es {
				out = append(out, fmt.Sprintf("%s %d/%d", e.URL, e.Failing, e.Subscriptions))
			}
			return strings.Join(out, ", ")
		}
		// URL order; the database's collation decides where .../IPN sorts,
		// so the test compares sets of the shop's endpoints.
		for _, limit := range []int{1, 2, 500} {
			got := eps(ledger.EndpointQuery{}, limit)
			if len(got) != 4 || got[0].URL != otherURL {
				t.Errorf("endpoints (pages of %d): %s", limit, show(got))
			}
			if got := show(eps(ledger.EndpointQuery{Prefix: shopURL}, limit)); got != shopURL+" 1/2, "+shop2URL+" 1/1" {
				t.Errorf("endpoints under %s (pages of %d): %s", shopURL, limit, got)
			}
			failing := eps(ledger.EndpointQuery{Failing: true}, limit)
			var urls []string
			for _, e := range failing {
				urls = append(urls, e.URL)
			}
			slices.Sort(urls)
			if strings.Join(urls, " ") != strings.Join([]string{shopUpperURL, shopURL, shop2URL}, " ") {
				t.Errorf("failing endpoints (pages of %d): %s", limit, show(failing))
			}
		}
		other := eps(ledger.EndpointQuery{Prefix: otherURL}, 10)
		if len(other) != 1 || !other[0].LastAttempt.Delivered || other[0].LastAttempt.Status != 200 || other[0].SecretSince.IsZero() ||
			!other[0].PreviousValidUntil.IsZero() {
			t.Errorf("other endpoint: %+v", other)
		}

		for _, bad := range []string{"x", "-1", "0", "1e3", "f", "fx", "zz"} {
			if _, err := l.ListAddresses(ctx, ledger.AddressQuery{Cursor: ledger.Cursor{After: bad, Limit: 5}}); !errors.Is(err, ledger.ErrInvalidCursor) {
				t.Errorf("address cursor %q: %v", bad, err)
			}
			if _, err := l.ListNotifications(ctx, ledger.NotificationQuery{Cursor: ledger.Cursor{After: bad, Limit: 5}}); !errors.Is(err, ledger.ErrInvalidCursor) {
				t.Errorf("notification cursor %q: %v", bad, err)
			}
			if _, err := l.ListEndpoints(ctx, ledger.EndpointQuery{Cursor: ledger.Cursor{After: bad, Limit: 5}}); !errors.Is(err, ledger.ErrInvalidCursor) {
				t.Errorf("endpoint cursor %q: %v", bad, err)
			}
		}
		for _, limit := range []int{0, -1, ledger.MaxListLimit + 1} {
			if _, err := l.ListSubscriptions(ctx, ledger.SubscriptionQuery{Cursor: ledger.Cursor{Limit: limit}}); err == nil {
				t.Errorf("limit %d accepted", limit)
			}
		}
	})
}

// TestConsoleFigures: the overview's delivery figures and chain rows, bulk
// redelivery and rotation as the console's store does them.
func TestConsoleFigures(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		f := newListFixture(t, l)
		st, err := l.DeliveryStats(ctx, l.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// Pending: addrF's untried notification; failing: B, C, D;
		// acknowledged: A and E, observed by the mempool write.
		if st.Pending != 1 || st.Failing != 3 || st.Acknowledged != 2 || st.AckLatency.Count != 2 || st.AckLatency.P95 < st.AckLatency.P50 {
			t.Errorf("stats %+v", st)
		}
		if later, _ := l.DeliveryStats(ctx, l.Now().Add(time.Minute)); later.Acknowledged != 0 || later.AckLatency.Count != 0 {
			t.Errorf("stats since a minute from now: %+v", later)
		}

		if err := l.Beat(ctx, "test", chains.Status{Chain: chains.BTC, State: chains.Synced, Height: 1, NodeHeight: 3, Feed: "websocket"}); err != nil {
			t.Fatal(err)
		}
		store := db.ConsoleStore{Ledger: l, Chains: []chains.Chain{chains.BTC, chains.XMR},
			NewSecret: func() (string, error) { return "ipnsec_new", nil }, SecretGrace: time.Hour}
		cs, err := store.ChainStatuses(ctx)
		if err != nil || len(cs) != 2 {
			t.Fatalf("chain statuses %+v, %v", cs, err)
		}
		if b := cs[0]; b.Chain != chains.BTC || b.Height != 1 || b.NodeHeight != 3 || b.Lag() != 2 || !b.Push ||
			b.LastBlockHash != blk(1).Hash || b.LastBlockAt.IsZero() || b.HeartbeatAt.IsZero() || b.State != chains.Synced {
			t.Errorf("btc: %+v", b)
		}
		if x := cs[1]; x.Chain != chains.XMR || !x.HeartbeatAt.IsZero() || x.Height != 0 {
			t.Errorf("xmr without heartbeat: %+v", x)
		}

		n, err := store.RedeliverFailing(ctx, shopURL)
		if err != nil || n != 1 {
			t.Fatalf("RedeliverFailing(%s) = %d, %v; want addrB's", shopURL, n, err)
		}
		ids, err := l.RedeliverAll(ctx, ledger.SubscriptionQuery{State: ledger.FailingSubscriptions})
		want := []int64{f.subs["addrD"], f.subs["addrC"], f.subs["addrB"]}
		if err != nil || !slices.Equal(ids, want) {
			t.Fatalf("RedeliverAll(failing) = %v, %v; want %v", ids, err, want)
		}
		due, err := l.ClaimDueAt(ctx, "w", l.Now(), time.Minute, 20)
		if err != nil || len(due) != 4 { // B, C, D out of back-off, F untried
			t.Errorf("due after redelivery: %d, %v", len(due), err)
		}
		if _, err := l.RedeliverAll(ctx, ledger.SubscriptionQuery{}); err == nil {
			t.Error("RedeliverAll of any state (ended ones included) accepted")
		}

		rot, err := store.RotateSecret(ctx, otherURL)
		if err != nil || rot.Secret != "ipnsec_new" || rot.PreviousValidUntil.Before(l.Now().Add(50*time.Minute)) {
			t.Errorf("rotation %+v, %v", rot, err)
		}
		if _, err := store.RotateSecret(ctx, "https://nobody.example/"); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("rotating an unknown endpoint: %v", err)
		}
		if e := allEndpoints(t, l, otherURL); e.PreviousValidUntil.IsZero() {
			t.Errorf("after the rotation the endpoint shows no previous secret: %+v", e)
		}
	})
}

func allEndpoints(t *testing.T, l *db.Ledger, url string) ledger.EndpointView {
	t.Helper()
	p, err := l.ListEndpoints(ctx, ledger.EndpointQuery{Prefix: url, Cursor: ledger.Cursor{Limit: 1}})
	if err != nil || len(p.Items) != 1 {
		t.Fatalf("endpoint %s: %+v, %v", url, p, err)
	}
	return p.Items[0]
}
