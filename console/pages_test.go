package console_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/console"
)

// Each list shows what the store gives, with filters passed through and
// the next page linked.
func TestPages(t *testing.T) {
	h := newHarness(t)
	c := h.signedIn()
	for path, want := range map[string][]string{
		"/console/": {"850000", "push", "polling", "ready", "behind by 12 blocks", "p50 1.2 s", "p95 7 s",
			`href="/console/subscriptions?state=failing"`},
		"/console/addresses?q=order":           {"order 1001", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"},
		"/console/addresses?chain=xmr":         {"donations", `<td data-label="Index" class="num">0/3</td>`},
		"/console/subscriptions?state=failing": {`id="sub-2"`, "failing", "500 Internal Server Error", "0.00250000 BTC"},
		"/console/subscriptions?state=ended":   {`id="sub-3"`, "ended"},
		"/console/subscriptions/2":             {"failing", "receiver answered 500", "Redeliver now", "End subscription"},
		"/console/endpoints":                   {goodURL, "Rotate secret", "Redeliver 1 failing"},
		"/console/notifications":               {`id="note-2"`, `id="note-1"`},
		"/console/invoices":                    {"A-1001", "0.00150000 BTC", "A-1002", "2.000000000000 XMR", `<span class="badge bad">underpaid</span>`},
		"/console/invoices?status=underpaid":   {"A-1002", "0.500000000000 XMR confirmed", "1.500000000000 XMR still due"},
	} {
		a := c.get(path)
		if a.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, a.status)
			continue
		}
		for _, w := range want {
			if !strings.Contains(a.body, w) {
				t.Errorf("GET %s: no %q", path, w)
			}
		}
	}
	if a := c.get("/console/subscriptions?state=failing"); strings.Contains(a.body, `id="sub-1"`) {
		t.Error("the failing filter shows an acknowledged subscription")
	}
	if body := c.get("/console/invoices?status=underpaid").body; strings.Contains(body, "A-1001") {
		t.Error("the status filter shows a paid invoice")
	}
	notes := c.get("/console/notifications").body
	if strings.Index(notes, `id="note-2"`) > strings.Index(notes, `id="note-1"`) {
		t.Error("the failing notification is not listed first")
	}
	// The overview's "ready" column: XMR is behind, BTC ready.
	if a := c.get("/console/"); !strings.Contains(a.body, `id="chain-xmr"`) || !strings.Contains(a.body, "not ready") {
		t.Error("the overview does not show XMR not ready")
	}
	// A stale heartbeat makes a synced chain not ready.
	h.clock.advance(time.Minute)
	if a := c.get("/console/"); !strings.Contains(a.body, "heartbeat older than 30 s") {
		t.Error("a minute-old heartbeat is not reported")
	}
}

func TestPagination(t *testing.T) {
	h := newHarness(t)
	h.store.mu.Lock()
	base := h.store.addresses[0]
	for i := range 120 {
		a := base
		a.ID = int64(100 + i)
		a.Address = "bc1qpage" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		a.Label = "bulk"
		h.store.addresses = append(h.store.addresses, a)
	}
	h.store.mu.Unlock()
	c := h.signedIn()
	seen := map[string]bool{}
	path := "/console/addresses?q=bulk"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		body := c.get(path).body
		for _, m := range strings.Split(body, `<code class="addr">`)[1:] {
			seen[m[:strings.Index(m, "<")]] = true
		}
		path = ""
		if i := strings.Index(body, `rel="next"`); i >= 0 {
			href := body[strings.LastIndex(body[:i], `href="`)+6:]
			path = strings.ReplaceAll(href[:strings.Index(href, `"`)], "&amp;", "&")
			if !strings.Contains(path, "q=bulk") {
				t.Fatalf("the next link %q lost the search", path)
			}
		}
	}
	if len(seen) != 120 {
		t.Errorf("%d addresses over the pages, want 120", len(seen))
	}
	if a := c.get("/console/addresses?after=bogus"); a.status != http.StatusBadRequest {
		t.Errorf("a bad cursor: %d, want 400", a.status)
	}
}

// Store failures are a 503 that says nothing of the error; a missing
// record is a 404; bad parameters 400.
func TestStoreErrors(t *testing.T) {
	h := newHarness(t)
	c := h.signedIn()
	if a := c.get("/console/subscriptions/999"); a.status != http.StatusNotFound {
		t.Errorf("unknown subscription: %d", a.status)
	}
	for _, p := range []string{"/console/addresses?chain=doge", "/console/subscriptions?state=weird", "/console/notifications?subscription=x",
		"/console/invoices?status=weird", "/console/addresses?q=" + strings.Repeat("a", 3000)} {
		if a := c.get(p); a.status != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", p, a.status)
		}
	}
	tok := c.csrf()
	h.store.mu.Lock()
	h.store.err = errors.New("dial tcp 127.0.0.1:3306: password=hunter2 refused")
	h.store.mu.Unlock()
	a := c.get("/console/")
	if a.status != http.StatusServiceUnavailable || strings.Contains(a.body, "hunter2") || strings.Contains(a.body, "3306") {
		t.Errorf("store down: %d, body leaks the error: %v", a.status, strings.Contains(a.body, "hunter2"))
	}
	a = c.post("/console/subscriptions/2/redeliver", url.Values{"csrf": {tok}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("failed action: %d", a.status)
	}
	h.store.mu.Lock()
	h.store.err = nil
	h.store.mu.Unlock()
	if body := c.get("/console/subscriptions/2").body; !strings.Contains(body, "the ledger did not answer") || strings.Contains(body, "hunter2") {
		t.Error("the failed action's message is missing or leaks the error")
	}
}

// The invoice page exists only with an InvoiceStore.
func TestInvoicesOptional(t *testing.T) {
	h := newHarness(t, func(o *console.Options) { o.Invoices = nil })
	c := h.signedIn()
	if a := c.get("/console/invoices"); a.status != http.StatusNotFound {
		t.Errorf("no InvoiceStore: /invoices %d", a.status)
	}
	if strings.Contains(c.get("/console/").body, "/console/invoices") {
		t.Error("no InvoiceStore: the navigation links to invoices")
	}
}

// Hostile strings from the ledger (a label, a receiver's error) are shown
// as text, on pages and in live updates.
func TestHostileStringsEscaped(t *testing.T) {
	h := newHarness(t)
	h.store.mu.Lock()
	h.store.subs[2].Newest.LastError = `<img src=x onerror=alert(1)>`
	h.store.mu.Unlock()
	c := h.signedIn()
	for _, p := range []string{"/console/addresses", "/console/subscriptions", "/console/subscriptions/2", "/console/invoices",
		"/console/addresses?q=" + url.QueryEscape(hostile)} {
		body := c.get(p).body
		if strings.Contains(body, hostile) || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: a hostile string is in the page unescaped", p)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;label&#34;)&lt;/script&gt;") {
			t.Errorf("%s: the hostile label is not shown as text", p)
		}
	}
	status, events, cancel := c.stream("/console/events/subscriptions/2")
	defer cancel()
	if status != http.StatusOK {
		t.Fatal(status)
	}
	ev := next(t, events, false)
	if strings.Contains(ev.data, "<img src=x") || strings.Contains(ev.data, "<script") {
		t.Errorf("the live update carries unescaped markup: %s", ev.data)
	}
}
