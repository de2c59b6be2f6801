package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// pages follows next from the first page of path and returns the items of
// every page under key.
func (h *harness) pages(path, key string) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	next := ""
	for i := 0; ; i++ {
		p := path
		if next != "" {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			p += sep + "after=" + url.QueryEscape(next)
		}
		m := wantOK(h.t, h.get(p))
		items, _ := m[key].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any))
		}
		n, more := m["next"].(string)
		if !more {
			return out
		}
		if i > 50 {
			h.t.Fatalf("%s: more than 50 pages", path)
		}
		next = n
	}
}

func field(items []map[string]any, key string) string {
	var out []string
	for _, it := range items {
		out = append(out, fmt.Sprint(it[key]))
	}
	return strings.Join(out, " ")
}

// The list endpoints on both backends: filters, pages, labels, the failing
// state and bulk redelivery.
func TestListEndpoints(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			h := newHarness(t, harnessOpts{driver: driver})
			ctx := context.Background()
			const shop, other = "http://93.184.216.34/ipn", "http://93.184.216.35/ipn"
			var subs []int64
			for i, label := range []string{"order 1", "order 2", "gift", "order 3"} {
				u := shop
				if i == 2 {
					u = other
				}
				m := wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "btc", "label": label, "url": u, "max_confirms": 1}))
				sid, _ := m["subscription"].(map[string]any)["id"].(json.Number).Int64()
				subs = append(subs, sid)
				h.mempool(chains.BTC, pay(fmt.Sprintf("tx%d", i), m["address"].(string), 1000))
			}
			// The receivers: order 1's acknowledges, order 2's fails,
			// the others are not tried yet.
			ns, err := h.l.ClaimDue(ctx, "w", time.Minute, 10)
			if err != nil || len(ns) != 4 {
				t.Fatalf("claim: %d %v", len(ns), err)
			}
			for _, n := range ns {
				switch n.SubscriptionID {
				case subs[0]:
					err = h.l.RecordAttempt(ctx, n, ledger.AttemptResult{Delivered: true, Status: 200})
				case subs[1]:
					err = h.l.RecordAttempt(ctx, n, ledger.AttemptResult{Status: 500, Error: "HTTP 500", RetryAfter: time.Hour})
				default:
					err = h.l.Defer(ctx, n, time.Hour)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			id := func(i int) string { return strconv.FormatInt(subs[i], 10) }

			if got := field(h.pages("/addresses?limit=1", "addresses"), "label"); got != "order 3 gift order 2 order 1" {
				t.Errorf("addresses: %s", got)
			}
			if got := field(h.pages("/addresses?label=order&limit=2", "addresses"), "label"); got != "order 3 order 2 order 1" {
				t.Errorf("addresses by label: %s", got)
			}
			first := h.pages("/addresses?limit=500", "addresses")[3]
			upper := strings.ToUpper(first["address"].(string)) // canonical form of the filter
			if got := h.pages("/addresses?chain=btc&address="+upper, "addresses"); len(got) != 1 || got[0]["label"] != "order 1" ||
				got[0]["index"] != json.Number("0") || got[0]["created_at"] == "" {
				t.Errorf("address filter: %v", got)
			}

			all := h.pages("/subscriptions?limit=3", "subscriptions")
			if got := field(all, "id"); got != strings.Join([]string{id(3), id(2), id(1), id(0)}, " ") {
				t.Errorf("subscriptions: %s", got)
			}
			if got := field(all, "label"); got != "order 3 gift order 2 order 1" {
				t.Errorf("subscription labels: %s", got)
			}
			failing := h.pages("/subscriptions?state=failing", "subscriptions")
			if len(failing) != 1 || failing[0]["id"] != json.Number(id(1)) {
				t.Fatalf("failing: %v", failing)
			}
			d := failing[0]["delivery"].(map[string]any)
			if d["state"] != "pending" || d["failing"] != true || d["last_status"] != json.Number("500") || d["last_error"] != "HTTP 500" ||
				d["attempts"] != json.Number("1") || d["last_attempt_at"] == nil || d["next_attempt_at"] == nil || d["unconfirmed_atomic"] != "1000" {
				t.Errorf("failing delivery: %v", d)
			}
			if got := field(h.pages("/subscriptions?url_prefix=http://93.184.216.34/", "subscriptions"), "label"); got != "order 3 order 2 order 1" {
				t.Errorf("by URL prefix: %s", got)
			}
			if got := field(h.pages("/subscriptions?url="+url.QueryEscape(other)+"&state=active", "subscriptions"), "label"); got != "gift" {
				t.Errorf("by URL: %s", got)
			}

			notes := h.pages("/notifications?limit=1", "notifications")
			if got := field(notes, "subscription_id"); got != strings.Join([]string{id(1), id(3), id(2), id(0)}, " ") {
				t.Errorf("notifications, failing first: %s", got)
			}
			if got := field(h.pages("/notifications?state=failing", "notifications"), "label"); got != "order 2" {
				t.Errorf("failing notifications: %s", got)
			}
			if got := field(h.pages("/notifications?state=delivered&label=order", "notifications"), "label"); got != "order 1" {
				t.Errorf("delivered notifications: %s", got)
			}
			if got := field(h.pages("/notifications?subscription_id="+id(2), "notifications"), "state"); got != "pending" {
				t.Errorf("one subscription's notifications: %s", got)
			}

			wantError(t, h.get("/subscriptions?after=zz"), 400, "after")
			wantError(t, h.get("/notifications?after=q1"), 400, "after")
			wantError(t, h.get("/subscriptions?limit=501"), 400, "limit")
			wantError(t, h.get("/subscriptions?state=broken"), 400, "state")
			wantError(t, h.get("/notifications?state=late"), 400, "state")
			wantError(t, h.get("/addresses?chain=doge"), 400, "chain")

			// Labels wherever an address is shown.
			addr := all[3]["address"].(string)
			if b := wantOK(t, h.get("/balance?address="+addr)); b["label"] != "order 1" {
				t.Errorf("balance label: %v", b["label"])
			}
			if s := wantOK(t, h.get("/subscriptions/"+id(0))); s["label"] != "order 1" || s["delivery"].(map[string]any)["failing"] != false {
				t.Errorf("subscription: %v", s)
			}

			// Bulk redelivery: a filter is required; failing ones leave
			// their back-off.
			wantError(t, h.postJSON("/subscriptions/redeliver", map[string]any{}), 400, "state")
			wantError(t, h.postJSON("/subscriptions/redeliver", map[string]any{"state": "ended"}), 400, "state")
			pokes := h.pokes.Load()
			m := wantOK(t, h.postJSON("/subscriptions/redeliver", map[string]any{"state": "failing"}))
			if m["redelivered"] != json.Number("1") || fmt.Sprint(m["ids"]) != "["+id(1)+"]" || h.pokes.Load() == pokes {
				t.Errorf("redeliver failing: %v (worker woken: %v)", m, h.pokes.Load() != pokes)
			}
			if due, _ := h.l.ClaimDue(ctx, "w", time.Minute, 10); len(due) != 1 || due[0].SubscriptionID != subs[1] {
				t.Errorf("due after the bulk redelivery: %+v", due)
			}
			m = wantOK(t, h.send("POST", "/subscriptions/redeliver", "application/x-www-form-urlencoded",
				[]byte("url_prefix="+url.QueryEscape("http://93.184.216.35"))))
			if m["redelivered"] != json.Number("1") {
				t.Errorf("redeliver by URL prefix: %v", m)
			}
			if s := wantOK(t, h.postJSON("/subscribe", map[string]any{"address": addr, "url": other})); s["label"] != "order 1" {
				t.Errorf("subscribe answer label: %v", s["label"])
			}
		})
	}
}

// goodReceiver is a receiver as the README's: it verifies the signature,
// keeps the highest IPN-Id per subscription and echoes the totals it holds.
func goodReceiver(t *testing.T, secret *string) *httptest.Server {
	type held struct {
		id   int64
		echo map[string]string
	}
	var mu sync.Mutex
	newest := map[string]held{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		key := *secret
		mu.Unlock()
		if ipn.Verify(key, r.Header.Get("IPN-Signature"), body, time.Now(), 0) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n struct {
			SubscriptionID                  json.Number `json:"subscription_id"`
			Address, Confirmed, Unconfirmed string
		}
		id, err := strconv.ParseInt(r.Header.Get("IPN-Id"), 10, 64)
		if err != nil || json.Unmarshal(body, &n) != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if h, seen := newest[n.SubscriptionID.String()]; !seen || id >= h.id {
			newest[n.SubscriptionID.String()] = held{id, map[string]string{"address": n.Address, "confirmed": n.Confirmed, "unconfirmed": n.Unconfirmed}}
		}
		json.NewEncoder(w).Encode(newest[n.SubscriptionID.String()].echo)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// POST /endpoints/test runs the receiver test kit with the endpoint's
// secret; it refuses URLs without a secret and private ones.
func TestEndpointTestOverHTTP(t *testing.T) {
	h := newHarness(t, harnessOpts{allowPrivate: true})
	addr := h.allocBTC()
	var secret string
	good := goodReceiver(t, &secret)
	secret = wantOK(t, h.postJSON("/subscribe", map[string]any{"address": addr, "url": good.URL + "/ipn"}))["secret"].(string)
	good2 := goodReceiver(t, &secret) // the same secret at a URL no subscription used

	rep := wantOK(t, h.postJSON("/endpoints/test", map[string]any{"url": good.URL + "/ipn"}))
	steps, _ := rep["steps"].([]any)
	if rep["pass"] != true || len(steps) != 10 || rep["passed"] != rep["required"] || rep["address"] != "bcrt1qqqqqqqqqqqqqqtestaddressneverpayctckca" {
		t.Errorf("the endpoint's own test: %s", rep)
	}
	// A URL no subscription used: 404 without a secret, a run with one.
	wantError(t, h.postJSON("/endpoints/test", map[string]any{"url": good2.URL + "/ipn"}), 404, "url")
	if rep := wantOK(t, h.postJSON("/endpoints/test", map[string]any{"url": good2.URL + "/ipn", "secret": secret})); rep["pass"] != true {
		t.Errorf("with a secret: %v", rep)
	}
	// This receiver reads JSON only: a form test fails its steps 1-5.
	if rep := wantOK(t, h.postJSON("/endpoints/test", map[string]any{"url": good.URL + "/ipn", "format": "form"})); rep["pass"] != false ||
		rep["format"] != "form" || rep["passed"] != json.Number("2") {
		t.Errorf("form: pass %v, format %v, passed %v", rep["pass"], rep["format"], rep["passed"])
	}
	// The wrong secret: the receiver refuses every step but 6 and 7.
	rep = wantOK(t, h.postJSON("/endpoints/test", map[string]any{"url": good2.URL + "/ipn", "secret": "ipnsec_wrong"}))
	if rep["pass"] != false || rep["passed"] != json.Number("2") {
		t.Errorf("wrong secret: pass %v, passed %v", rep["pass"], rep["passed"])
	}
	wantError(t, h.postJSON("/endpoints/test", map[string]any{}), 400, "url")
	wantError(t, h.postJSON("/endpoints/test", map[string]any{"url": "ftp://x/", "secret": "s"}), 400, "url")
	wantError(t, h.postJSON("/endpoints/test", map[string]any{"url": good.URL, "format": "xml"}), 400, "format")
	// Credentials in the URL: refused with a clear 400, nothing sent.
	withCreds := strings.Replace(good.URL, "http://", "http://shop:hunter2@", 1) + "/ipn"
	a := h.postJSON("/endpoints/test", map[string]any{"url": withCreds, "secret": secret})
	wantError(t, a, 400, "url")
	if msg := a.json(t)["error"].(string); !strings.Contains(msg, "user name or password") || strings.Contains(msg, "hunter2") {
		t.Errorf("URL with credentials: %q", msg)
	}

	strict := newHarness(t, harnessOpts{})
	wantError(t, strict.postJSON("/endpoints/test", map[string]any{"url": good.URL + "/ipn", "secret": secret}), 400, "url")
}
