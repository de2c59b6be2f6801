package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/invoice"
)

func str(m map[string]any, k string) string { return fmt.Sprint(m[k]) }

// createInvoice posts v to /invoices and wants 201.
func (h *harness) createInvoice(v any) map[string]any {
	h.t.Helper()
	a := h.postJSON("/invoices", v)
	if a.code != http.StatusCreated {
		h.t.Fatalf("POST /invoices: %d %s", a.code, a.body)
	}
	return a.json(h.t)
}

// POST /invoices answers a fresh address, the payment URI with amount
// and label from the chain's spec, QR and checkout links on the request's
// host, the expiry and status new; metadata is echoed; GET answers the
// same invoice.
func TestCreateInvoice(t *testing.T) {
	h := newHarness(t, harnessOpts{allowPrivate: true})
	before := time.Now()
	m := h.createInvoice(map[string]any{"chain": "btc", "amount": "0.0015", "description": "Order 42: tea",
		"metadata": map[string]any{"cart": []int{1, 2}, "note": "ü"}, "order_id": "42", "expires_in": 600})
	id := str(m, "id")
	if !invoice.ValidID(id) || m["status"] != "new" || m["amount"] != "0.00150000" || m["amount_atomic"] != "150000" ||
		m["due_atomic"] != "150000" || m["paid_atomic"] != "0" || m["order_id"] != "42" || m["created"] != true {
		t.Fatalf("answer %v", m)
	}
	addr := str(m, "address")
	if want := "bitcoin:" + addr + "?amount=0.0015&label=Order%2042%3A%20tea"; m["uri"] != want {
		t.Errorf("uri %v, want %s", m["uri"], want)
	}
	base := h.srv.URL
	for k, want := range map[string]string{"checkout_url": base + "/pay/" + id, "qr_png": base + "/pay/" + id + "/qr.png",
		"qr_svg": base + "/pay/" + id + "/qr.svg"} {
		if m[k] != want {
			t.Errorf("%s = %v, want %s", k, m[k], want)
		}
	}
	exp, err := time.Parse(time.RFC3339Nano, str(m, "expires_at"))
	if err != nil || exp.Before(before.Add(600*time.Second-time.Second)) || exp.After(time.Now().Add(600*time.Second)) {
		t.Errorf("expires_at %v (%v), want 10 minutes from now", m["expires_at"], err)
	}
	if md, _ := json.Marshal(m["metadata"]); string(md) != `{"cart":[1,2],"note":"ü"}` {
		t.Errorf("metadata echoed as %s", md)
	}
	got := wantOK(t, h.get("/invoices/"+id))
	if got["address"] != addr || got["status"] != "new" || got["uri"] != m["uri"] || got["created"] != nil {
		t.Errorf("GET /invoices/%s = %v", id, got)
	}
	// Monero: its own scheme and keys.
	x := h.createInvoice(map[string]any{"chain": "monero", "amount_atomic": "1250000000000", "description": "tea"})
	if want := "monero:" + str(x, "address") + "?tx_amount=1.25&tx_description=tea"; x["uri"] != want {
		t.Errorf("xmr uri %v, want %s", x["uri"], want)
	}
	// Unknown ids are 404 naming id.
	wantError(t, h.get("/invoices/"+invoice.NewID()), 404, "id")
	wantError(t, h.get("/invoices/1"), 404, "id")
}

// [invoices] public_url is the base of every link.
func TestInvoiceLinksUsePublicURL(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	opts := testOptions(h.l, map[chains.Chain]Chain{chains.BTC: h.btc}, harnessOpts{})
	opts.Invoices = testInvoicesConfig()
	opts.Invoices.PublicURL = "https://pay.shop.example/ipnd/"
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	h.srv.Config.Handler = s.Handler()
	m := h.createInvoice(map[string]any{"chain": "btc", "amount": "1"})
	if want := "https://pay.shop.example/ipnd/pay/" + str(m, "id"); m["checkout_url"] != want {
		t.Fatalf("checkout_url %v, want %s", m["checkout_url"], want)
	}
}

// Bad input is 400 naming the field.
func TestCreateInvoiceBadInput(t *testing.T) {
	h := newHarness(t, harnessOpts{noXMR: true})
	big := `{"k":"` + strings.Repeat("x", invoice.MaxMetadataBytes) + `"}`
	for body, field := range map[string]string{
		`{"amount":"1"}`:                                                                "chain",
		`{"chain":"doge","amount":"1"}`:                                                 "chain",
		`{"chain":"xmr","amount":"1"}`:                                                  "chain", // not enabled
		`{"chain":"btc"}`:                                                               "amount",
		`{"chain":"btc","amount":"-1"}`:                                                 "amount",
		`{"chain":"btc","amount":-0.5}`:                                                 "amount",
		`{"chain":"btc","amount":"0"}`:                                                  "amount",
		`{"chain":"btc","amount":0}`:                                                    "amount",
		`{"chain":"btc","amount":"0.000000001"}`:                                        "amount",
		`{"chain":"btc","amount":"1e3"}`:                                                "amount",
		`{"chain":"btc","amount":"184467440737.09551616"}`:                              "amount",
		`{"chain":"btc","amount":"92233720368.54775808"}`:                               "amount", // above what SQLite holds
		`{"chain":"btc","amount":true}`:                                                 "amount",
		`{"chain":"btc","amount":"1","amount_atomic":"1"}`:                              "amount",
		`{"chain":"btc","amount_atomic":"18446744073709551616"}`:                        "amount_atomic",
		`{"chain":"btc","amount_atomic":"1.5"}`:                                         "amount_atomic",
		`{"chain":"btc","amount_atomic":-5}`:                                            "amount_atomic",
		`{"chain":"btc","amount":"1","expires_in":30}`:                                  "expires_in",
		`{"chain":"btc","amount":"1","expires_in":"8d"}`:                                "expires_in",
		`{"chain":"btc","amount":"1","expires_in":"169h"}`:                              "expires_in",
		`{"chain":"btc","amount":"1","expires_in":-60}`:                                 "expires_in",
		`{"chain":"btc","amount":"1","expires_in":99999999999999999999}`:                "expires_in",
		`{"chain":"btc","amount":"1","metadata":[1,2]}`:                                 "metadata",
		`{"chain":"btc","amount":"1","metadata":"{}"}`:                                  "metadata",
		`{"chain":"btc","amount":"1","metadata":5}`:                                     "metadata",
		`{"chain":"btc","amount":"1","metadata":` + big + `}`:                           "metadata",
		`{"chain":"btc","amount":"1","order_id":"a b"}`:                                 "order_id",
		`{"chain":"btc","amount":"1","description":"` + strings.Repeat("é", 200) + `"}`: "description",
		`{"chain":"btc","amount":"1","max_confirms":1001}`:                              "max_confirms",
		`{"chain":"btc","amount":"1","url":"ftp://x.example/"}`:                         "url",
		`{"chain":"btc","amount":"1","url":"http://127.0.0.1/ipn"}`:                     "url",
		`{"chain":"btc","amount":"1","url":"https://1.1.1.1/ipn","format":"xml"}`:       "format",
	} {
		a := h.postJSON("/invoices", body)
		if a.code != 400 {
			t.Errorf("%s: %d %s, want 400", body, a.code, a.body)
			continue
		}
		if m := a.json(t); m["field"] != field {
			t.Errorf("%s: field %v (%v), want %s", body, m["field"], m["error"], field)
		}
	}
	// Form-encoded metadata is the object's JSON text.
	a := h.send("POST", "/invoices", "application/x-www-form-urlencoded", []byte(`chain=btc&amount=1&metadata=%5B%5D`))
	wantError(t, a, 400, "metadata")
	a = h.send("POST", "/invoices", "application/x-www-form-urlencoded", []byte(`chain=btc&amount=1&metadata=%7B%22a%22%3A1%7D`))
	if a.code != 201 || !strings.Contains(string(a.body), `"metadata":{"a":1}`) {
		t.Errorf("form metadata: %d %s", a.code, a.body)
	}
	if n := len(h.addresses(chains.BTC)); n != 1 {
		t.Errorf("bad requests allocated addresses: %d recorded, want 1", n)
	}
}

// 50 concurrent identical requests with one order_id make one invoice at
// one address; every answer is that invoice (one 201, the others 200). The
// same order_id for another amount is a conflict.
func TestInvoiceOrderIDConcurrent(t *testing.T) {
	h := newHarness(t, harnessOpts{driver: "mysql"})
	body := map[string]any{"chain": "btc", "amount": "0.25", "order_id": "order-2026-0001", "url": "https://1.1.1.1/ipn"}
	const n = 50
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = h.postJSON("/invoices", body) }()
	}
	wg.Wait()
	ids, created := map[string]bool{}, 0
	for _, a := range answers {
		if a.code != 200 && a.code != 201 {
			t.Fatalf("answer %d %s", a.code, a.body)
		}
		m := a.json(t)
		ids[str(m, "id")] = true
		if a.code == 201 {
			created++
		}
		sub, _ := m["subscription"].(map[string]any)
		if sub == nil || sub["secret"] == "" {
			t.Fatalf("answer without the subscription: %s", a.body)
		}
	}
	if len(ids) != 1 || created != 1 {
		t.Fatalf("%d invoices, %d created; want one", len(ids), created)
	}
	if got := len(h.addresses(chains.BTC)); got != 1 {
		t.Errorf("%d addresses allocated, want 1", got)
	}
	list := wantOK(t, h.get("/invoices?order_id=order-2026-0001"))
	if items, _ := list["invoices"].([]any); len(items) != 1 {
		t.Errorf("GET /invoices?order_id= lists %d", len(items))
	}
	body["amount"] = "0.26"
	wantError(t, h.postJSON("/invoices", body), 409, "order_id")
}

// GET /invoices pages by cursor, newest first, filtered by status; cancel
// works only on a new invoice with nothing received.
func TestListAndCancelInvoices(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	var ids []string
	for range 5 {
		ids = append(ids, str(h.createInvoice(map[string]any{"chain": "btc", "amount": "0.001"}), "id"))
	}
	c := wantOK(t, h.send("POST", "/invoices/"+ids[0]+"/cancel", "", nil))
	if c["status"] != "cancelled" {
		t.Fatalf("cancel: %v", c)
	}
	if c = wantOK(t, h.send("POST", "/invoices/"+ids[0]+"/cancel", "", nil)); c["status"] != "cancelled" {
		t.Fatalf("cancel again: %v", c)
	}
	// A payment seen: not cancellable.
	addr := str(wantOK(t, h.get("/invoices/"+ids[1])), "address")
	h.mempool(chains.BTC, pay("tx1", addr, 1000))
	wantError(t, h.send("POST", "/invoices/"+ids[1]+"/cancel", "", nil), 409, "status")
	wantError(t, h.send("POST", "/invoices/"+invoice.NewID()+"/cancel", "", nil), 404, "id")

	var listed []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		m := wantOK(t, h.get("/invoices?status=new&limit=2&after="+cursor))
		for _, it := range m["invoices"].([]any) {
			listed = append(listed, str(it.(map[string]any), "id"))
		}
		if m["next"] == nil {
			break
		}
		cursor = str(m, "next")
	}
	// ids[1] has a part of its amount: still new.
	if want := []string{ids[4], ids[3], ids[2], ids[1]}; fmt.Sprint(listed) != fmt.Sprint(want) {
		t.Fatalf("new invoices %v, want %v", listed, want)
	}
	wantError(t, h.get("/invoices?status=paidish"), 400, "status")
	wantError(t, h.get("/invoices?after=abc"), 400, "after")
	wantError(t, h.get("/invoices?limit=501"), 400, "limit")
}

// The QR PNG decodes (gozxing, independent of the encoder) to the
// invoice's uri; the SVG is served as an image with a CSP of its own; both
// are public.
func TestInvoiceQRCodes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	m := h.createInvoice(map[string]any{"chain": "btc", "amount": "0.0015", "description": "Order #7 für Anna"})
	h.auth = false
	a := h.get("/pay/" + str(m, "id") + "/qr.png")
	if a.code != 200 || a.header.Get("Content-Type") != "image/png" {
		t.Fatalf("qr.png: %d %s", a.code, a.header.Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader(a.body))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode the QR code: %v", err)
	}
	if res.GetText() != m["uri"] {
		t.Fatalf("QR code says %q, uri is %q", res.GetText(), m["uri"])
	}
	a = h.get("/pay/" + str(m, "id") + "/qr.svg")
	if a.code != 200 || a.header.Get("Content-Type") != "image/svg+xml" || !bytes.Contains(a.body, []byte("<svg")) ||
		!strings.Contains(a.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("qr.svg: %d %v %.100s", a.code, a.header, a.body)
	}
	if a := h.get("/pay/" + invoice.NewID() + "/qr.png"); a.code != 404 {
		t.Fatalf("qr.png of an unknown invoice: %d", a.code)
	}
}

// The checkout page without a browser: public, the amount, address and QR
// in the HTML, the strict CSP and no-referrer; an unknown id is a 404
// page; a client beyond checkout_rate gets 429 with Retry-After.
func TestCheckoutPageServed(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	opts := testOptions(h.l, map[chains.Chain]Chain{chains.BTC: h.btc}, harnessOpts{})
	opts.Invoices = testInvoicesConfig()
	opts.Invoices.CheckoutRate = 5
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Config.Handler = s.Handler()
	m := h.createInvoice(map[string]any{"chain": "btc", "amount": "0.0015"})
	h.auth = false
	a := h.get("/pay/" + str(m, "id"))
	page := string(a.body)
	if a.code != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page, "0.0015 BTC") || !strings.Contains(page, str(m, "address")) ||
		!strings.Contains(page, `src="/pay/`+str(m, "id")+`/qr.svg"`) || !strings.Contains(page, ">waiting<") {
		t.Fatalf("page %d:\n%s", a.code, page)
	}
	csp := a.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if a.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", a.header.Get("Referrer-Policy"))
	}
	if a := h.get("/pay/" + invoice.NewID()); a.code != 404 || !strings.Contains(string(a.body), "not valid") {
		t.Errorf("unknown invoice: %d %s", a.code, a.body)
	}
	for i := 0; ; i++ {
		a := h.get("/pay/assets/checkout.css")
		if a.code == 429 {
			if a.header.Get("Retry-After") == "" || i < 3 {
				t.Fatalf("429 after %d requests, Retry-After %q", i, a.header.Get("Retry-After"))
			}
			break
		}
		if i > 10 {
			t.Fatalf("no 429 after %d requests at checkout_rate 5", i)
		}
	}
	// The API itself is not limited by the checkout's rate.
	h.auth = true
	wantOK(t, h.get("/invoices/"+str(m, "id")))
}

func testInvoicesConfig() config.Invoices { return config.Default().Invoices }

func (h *harness) addresses(c chains.Chain) []chains.Address {
	h.t.Helper()
	as, err := h.l.Addresses(context.Background(), c)
	if err != nil {
		h.t.Fatal(err)
	}
	return as
}
