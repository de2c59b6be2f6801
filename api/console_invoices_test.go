package api

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/db"
)

// The console's invoice page lists the ledger's invoices (the ledger is
// its InvoiceStore, as the api role mounts it), filtered by status.
func TestConsoleListsInvoices(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c, err := console.New(console.Options{Store: db.ConsoleStore{Ledger: h.l, Chains: []chains.Chain{chains.BTC}},
		Invoices: h.l, Auth: console.Keys(testKey)})
	if err != nil {
		t.Fatal(err)
	}
	h.s.MountConsole(c)
	h.srv.Config.Handler = h.s.Handler()
	kept := str(h.createInvoice(map[string]any{"chain": "btc", "amount": "0.001", "order_id": "console-1"}), "id")
	gone := str(h.createInvoice(map[string]any{"chain": "btc", "amount": "0.002"}), "id")
	wantOK(t, h.send("POST", "/invoices/"+gone+"/cancel", "", nil))

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	get := func(path string) string {
		t.Helper()
		resp, err := hc.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
		}
		return body
	}
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/console/signin"))
	if tok == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/console/signin",
		strings.NewReader(url.Values{"key": {testKey}, "csrf": {tok[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", h.srv.URL)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	all := get("/console/invoices")
	if !strings.Contains(all, kept) || !strings.Contains(all, gone) || !strings.Contains(all, "console-1") {
		t.Fatalf("the invoice page lacks the invoices:\n%s", all)
	}
	if cancelled := get("/console/invoices?status=cancelled"); !strings.Contains(cancelled, gone) || strings.Contains(cancelled, kept) {
		t.Fatalf("the cancelled invoices:\n%s", cancelled)
	}
}
