package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

const publicURL = "http://93.184.216.34/ipn"

// allocBTC hands out a Bitcoin address through the API.
func (h *harness) allocBTC() string {
	h.t.Helper()
	m := wantOK(h.t, h.postJSON("/addresses", map[string]any{"chain": "btc"}))
	return m["address"].(string)
}

func TestBalanceFlow(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			h := newHarness(t, harnessOpts{driver: driver})
			addr := h.allocBTC()
			// 0.5 BTC mined at height 1, two more blocks: 3 confirmations.
			h.mine(chains.BTC, pay("tx1", addr, 50_000_000))
			h.mine(chains.BTC)
			h.mine(chains.BTC)
			h.mempool(chains.BTC, pay("tx2", addr, 1_000_000))

			want := map[string]any{
				"chain": "btc", "address": addr, "confirmed": "0.50000000", "unconfirmed": "0.01000000",
				"confirmed_atomic": "50000000", "unconfirmed_atomic": "1000000", "max_confirms": json.Number("3"),
				"height": json.Number("3"),
			}
			form := url.Values{"address": {addr}}
			for name, a := range map[string]answer{
				"GET query": h.get("/balance?" + form.Encode()),
				"POST form": h.send("POST", "/balance", "application/x-www-form-urlencoded", []byte(form.Encode())),
				"POST JSON": h.postJSON("/balance", map[string]any{"address": addr}),
				"by index":  h.get("/balance?chain=btc&index=0"),
				"multipart": multipartPost(h, "/balance", map[string]string{"address": addr}),
			} {
				m := wantOK(t, a)
				for k, v := range want {
					if m[k] != v {
						t.Errorf("%s: %s = %v, want %v", name, k, m[k], v)
					}
				}
				txs := m["transactions"].([]any)
				if len(txs) != 2 {
					t.Fatalf("%s: %d transactions: %s", name, len(txs), a.body)
				}
				tx1 := txs[0].(map[string]any)
				if tx1["txid"] != "tx1" || tx1["amount"] != "0.50000000" || tx1["amount_atomic"] != "50000000" ||
					tx1["confirmations"] != json.Number("3") || tx1["status"] != "confirmed" || tx1["counts_as"] != "confirmed" {
					t.Errorf("%s: tx1 = %v", name, tx1)
				}
				tx2 := txs[1].(map[string]any)
				if tx2["status"] != "mempool" || tx2["confirmations"] != json.Number("0") || tx2["counts_as"] != "unconfirmed" {
					t.Errorf("%s: tx2 = %v", name, tx2)
				}
			}
			// A deeper requirement moves the mined deposit to unconfirmed.
			m := wantOK(t, h.postJSON("/balance", map[string]any{"address": addr, "max_confirms": 4}))
			if m["confirmed_atomic"] != "0" || m["unconfirmed_atomic"] != "51000000" || m["max_confirms"] != json.Number("4") {
				t.Errorf("max_confirms 4: %s", h.postJSON("/balance", map[string]any{"address": addr, "max_confirms": 4}).body)
			}
			// max_confirms as a string of digits, and 0 counting the mempool.
			m = wantOK(t, h.postJSON("/balance", map[string]any{"address": addr, "max_confirms": "0"}))
			if m["confirmed_atomic"] != "51000000" || m["unconfirmed_atomic"] != "0" {
				t.Errorf("max_confirms 0: %v", m)
			}
			// Monero amounts have 12 decimals.
			x := wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "xmr"}))["address"].(string)
			h.mine(chains.XMR, pay("xtx", x, 1_500_000_000_000))
			m = wantOK(t, h.get("/balance?max_confirms=1&address="+x))
			if m["chain"] != "xmr" || m["confirmed"] != "1.500000000000" || m["confirmed_atomic"] != "1500000000000" {
				t.Errorf("xmr balance: %v", m)
			}
		})
	}
}

func multipartPost(h *harness, path string, fields map[string]string) answer {
	var b strings.Builder
	for k, v := range fields {
		fmt.Fprintf(&b, "--XB\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", k, v)
	}
	b.WriteString("--XB--\r\n")
	return h.send("POST", path, "multipart/form-data; boundary=XB", []byte(b.String()))
}

func TestBalanceErrors(t *testing.T) {
	h := newHarness(t, harnessOpts{noXMR: true})
	addr := h.allocBTC()
	big := `{"address":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
	cases := []struct {
		name  string
		a     answer
		code  int
		field string
	}{
		{"no address", h.get("/balance"), 400, "address"},
		{"invalid address", h.get("/balance?address=hello"), 400, "address"},
		{"wrong network", h.get("/balance?address=bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), 400, "address"},
		{"disabled chain's address", h.get("/balance?address=" + xmrAddr("a")), 400, "address"},
		{"valid, not watched", h.get("/balance?address=" + btcAddr(999)), 404, "address"},
		{"index not allocated", h.get("/balance?chain=btc&index=5"), 404, "index"},
		{"index too big", h.get("/balance?chain=btc&index=2147483648"), 400, "index"},
		{"index negative", h.get("/balance?chain=btc&index=-1"), 400, "index"},
		{"index and address", h.get("/balance?index=0&address=" + addr), 400, "index"},
		{"unknown chain", h.get("/balance?chain=doge&index=1"), 400, "chain"},
		{"disabled chain", h.get("/balance?chain=xmr&index=1"), 400, "chain"},
		{"chain mismatch", h.get("/balance?chain=xmr&address=" + addr), 400, "chain"},
		{"max_confirms 1001", h.get("/balance?max_confirms=1001&address=" + addr), 400, "max_confirms"},
		{"max_confirms -1", h.get("/balance?max_confirms=-1&address=" + addr), 400, "max_confirms"},
		{"max_confirms word", h.get("/balance?max_confirms=three&address=" + addr), 400, "max_confirms"},
		{"max_confirms huge", h.get("/balance?max_confirms=99999999999999999999999&address=" + addr), 400, "max_confirms"},
		{"max_confirms fraction", h.postJSON("/balance", `{"address":"`+addr+`","max_confirms":3.5}`), 400, "max_confirms"},
		{"max_confirms exponent", h.postJSON("/balance", `{"address":"`+addr+`","max_confirms":1e2}`), 400, "max_confirms"},
		{"max_confirms bool", h.postJSON("/balance", `{"address":"`+addr+`","max_confirms":true}`), 400, "max_confirms"},
		{"max_confirms object", h.postJSON("/balance", `{"address":"`+addr+`","max_confirms":{}}`), 400, "max_confirms"},
		{"address number", h.postJSON("/balance", `{"address":12}`), 400, "address"},
		{"address array", h.postJSON("/balance", `{"address":["x"]}`), 400, "address"},
		{"address twice", h.get("/balance?address=" + addr + "&address=" + addr), 400, "address"},
		{"control characters", h.get("/balance?address=%00" + addr), 400, "address"},
		{"malformed JSON", h.postJSON("/balance", `{"address":`), 400, "body"},
		{"JSON array", h.postJSON("/balance", `["address"]`), 400, "body"},
		{"JSON null", h.postJSON("/balance", `null`), 400, "body"},
		{"trailing data", h.postJSON("/balance", `{"address":"x"} {}`), 400, "body"},
		{"malformed query", h.get("/balance?address=%zz"), 400, "query"},
		{"body too large", h.send("POST", "/balance", "application/json", []byte(big)), 413, "body"},
		{"content type", h.send("POST", "/balance", "text/xml", []byte("<a/>")), 415, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantError(t, c.a, c.code, c.field) })
	}
}

func TestBodyLimitChunked(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// No Content-Length: the limit is enforced while reading.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"address":"`))
		chunk := []byte(strings.Repeat("a", 4096))
		for i := 0; i < 20; i++ {
			if _, err := pw.Write(chunk); err != nil {
				break
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", h.srv.URL+"/balance", pr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

func TestSubscribeFlow(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			h := newHarness(t, harnessOpts{driver: driver})
			addr := btcAddr(4242) // valid but not watched yet
			a := h.postJSON("/subscribe", map[string]any{"address": addr, "url": publicURL, "max_confirms": 2})
			m := wantOK(t, a)
			id, _ := m["id"].(json.Number).Int64()
			secret, _ := m["secret"].(string)
			if m["status"] != "success" || id <= 0 || !strings.HasPrefix(secret, ipn.SecretPrefix) || m["created"] != true ||
				m["chain"] != "btc" || m["format"] != "json" || m["max_confirms"] != json.Number("2") {
				t.Fatalf("subscribe: %s", a.body)
			}
			if h.pokes.Load() != 1 {
				t.Errorf("worker poked %d times, want 1", h.pokes.Load())
			}
			// The address is watched now.
			wantOK(t, h.get("/balance?address="+addr))
			// Again with the same URL: the same subscription, updated.
			m = wantOK(t, h.send("POST", "/subscribe", "application/x-www-form-urlencoded",
				[]byte(url.Values{"address": {addr}, "url": {publicURL}, "max_confirms": {"5"}, "format": {"form"}}.Encode())))
			if id2, _ := m["id"].(json.Number).Int64(); id2 != id || m["secret"] != secret || m["created"] != false ||
				m["max_confirms"] != json.Number("5") || m["format"] != "form" {
				t.Fatalf("re-subscribe: %v", m)
			}
			// A payment makes a notification; deliver it once (failing).
			h.mine(chains.BTC, pay("t1", addr, 12_345))
			path := fmt.Sprintf("/subscriptions/%d", id)
			m = wantOK(t, h.get(path))
			if m["active"] != true || m["url"] != publicURL || m["address"] != addr || m["max_confirms"] != json.Number("5") {
				t.Errorf("subscription: %v", m)
			}
			if _, ok := m["secret"]; ok {
				t.Error("GET /subscriptions shows the secret")
			}
			d := m["delivery"].(map[string]any)
			if d["state"] != "pending" || d["unconfirmed_atomic"] != "12345" || d["attempts"] != json.Number("0") {
				t.Errorf("delivery: %v", d)
			}
			ctx := context.Background()
			ns, err := h.l.ClaimDueAt(ctx, "test", time.Now().Add(time.Hour), time.Minute, 10)
			if err != nil || len(ns) != 1 {
				t.Fatalf("claim: %v %d", err, len(ns))
			}
			if err := h.l.RecordAttempt(ctx, ns[0], ledger.AttemptResult{Status: 500, Error: "receiver said 500",
				Duration: 1500 * time.Microsecond, NextAttemptAt: time.Now().Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			m = wantOK(t, h.get(path))
			d = m["delivery"].(map[string]any)
			atts := m["attempts"].([]any)
			if d["attempts"] != json.Number("1") || d["last_status"] != json.Number("500") || d["last_error"] != "receiver said 500" ||
				d["next_attempt_at"] == nil || len(atts) != 1 {
				t.Fatalf("after an attempt: %v", m)
			}
			at := atts[0].(map[string]any)
			if at["status"] != json.Number("500") || at["error"] != "receiver said 500" || at["delivered"] != false ||
				at["duration_ms"] != json.Number("1.5") || at["at"] == "" {
				t.Errorf("attempt: %v", at)
			}
			// Redeliver makes the failing notification due now (not after its
			// back-off) and pokes the worker.
			pokes := h.pokes.Load()
			m = wantOK(t, h.send("POST", path+"/redeliver", "", nil))
			if nid, _ := m["notification_id"].(json.Number).Int64(); nid != ns[0].ID || m["unconfirmed"] != "0.00012345" {
				t.Errorf("redeliver: %v", m)
			}
			if h.pokes.Load() != pokes+1 {
				t.Error("redeliver did not poke the worker")
			}
			if due, err := h.l.ClaimDue(ctx, "test", time.Minute, 10); err != nil || len(due) != 1 || due[0].ID != ns[0].ID {
				t.Fatalf("after redeliver: claimed %v, %v; want notification %d at once", due, err, ns[0].ID)
			}
			// End it.
			m = wantOK(t, h.send("DELETE", fmt.Sprintf("/subscribe/%d", id), "", nil))
			if m["status"] != "success" {
				t.Errorf("unsubscribe: %v", m)
			}
			wantError(t, h.send("DELETE", fmt.Sprintf("/subscribe/%d", id), "", nil), 404, "id")
			wantError(t, h.send("POST", path+"/redeliver", "", nil), 404, "id")
			if m = wantOK(t, h.get(path)); m["active"] != false {
				t.Errorf("after unsubscribe: %v", m)
			}
			wantError(t, h.get("/subscriptions/999999"), 404, "id")
		})
	}
}

func TestSubscribeErrors(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	addr := h.allocBTC()
	sub := func(v map[string]any) answer { return h.postJSON("/subscribe", v) }
	cases := []struct {
		name  string
		a     answer
		code  int
		field string
	}{
		{"no address", sub(map[string]any{"url": publicURL}), 400, "address"},
		{"no url", sub(map[string]any{"address": addr}), 400, "url"},
		{"ftp url", sub(map[string]any{"address": addr, "url": "ftp://93.184.216.34/x"}), 400, "url"},
		{"no host", sub(map[string]any{"address": addr, "url": "http:///x"}), 400, "url"},
		{"not a url", sub(map[string]any{"address": addr, "url": "::"}), 400, "url"},
		{"loopback url", sub(map[string]any{"address": addr, "url": "http://127.0.0.1:9/ipn"}), 400, "url"},
		{"private url", sub(map[string]any{"address": addr, "url": "https://10.1.2.3/ipn"}), 400, "url"},
		{"link-local url", sub(map[string]any{"address": addr, "url": "http://[fe80::1]/ipn"}), 400, "url"},
		{"credentials in url", sub(map[string]any{"address": addr, "url": "http://u:p@93.184.216.34/"}), 400, "url"},
		{"url number", sub(map[string]any{"address": addr, "url": 5}), 400, "url"},
		{"format", sub(map[string]any{"address": addr, "url": publicURL, "format": "xml"}), 400, "format"},
		{"max_confirms", sub(map[string]any{"address": addr, "url": publicURL, "max_confirms": 1001}), 400, "max_confirms"},
		{"invalid address", sub(map[string]any{"address": "nope", "url": publicURL}), 400, "address"},
		{"not the wallet's", sub(map[string]any{"address": xmrAddr("stranger"), "url": publicURL}), 400, "address"},
		{"bad id", h.send("DELETE", "/subscribe/abc", "", nil), 400, "id"},
		{"zero id", h.send("DELETE", "/subscribe/0", "", nil), 400, "id"},
		{"signed id", h.send("DELETE", "/subscribe/+1", "", nil), 400, "id"},
		{"huge id", h.get("/subscriptions/99999999999999999999"), 400, "id"},
		{"unknown id", h.send("POST", "/subscriptions/77/redeliver", "", nil), 404, "id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantError(t, c.a, c.code, c.field) })
	}
	if _, err := h.l.AddressByString(context.Background(), chains.XMR, xmrAddr("stranger")); err == nil {
		t.Error("a refused address was recorded")
	}
	// A subaddress of the wallet is accepted.
	x := wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "monero"}))["address"].(string)
	m := wantOK(t, sub(map[string]any{"address": x, "url": publicURL}))
	if m["chain"] != "xmr" {
		t.Errorf("xmr subscribe: %v", m)
	}
}

func TestPrivateTargetsAllowed(t *testing.T) {
	h := newHarness(t, harnessOpts{allowPrivate: true})
	addr := h.allocBTC()
	wantOK(t, h.postJSON("/subscribe", map[string]any{"address": addr, "url": "http://127.0.0.1:9/ipn"}))
	wantError(t, h.postJSON("/subscribe", map[string]any{"address": addr, "url": "gopher://127.0.0.1/"}), 400, "url")
}

func TestAddresses(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		m := wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "btc", "label": "order 7"}))
		if m["index"] != json.Number(fmt.Sprint(i)) || m["address"] != btcAddr(uint32(i)) || m["uri"] != "bitcoin:"+btcAddr(uint32(i)) ||
			m["label"] != "order 7" {
			t.Errorf("allocation %d: %v", i, m)
		}
		if _, ok := m["subscription"]; ok {
			t.Error("subscription without url")
		}
	}
	// A fixed index with an amount: BIP21 URI with the shortest exact amount.
	m := wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "bitcoin", "index": 1010, "amount": "0.01500000"}))
	if m["index"] != json.Number("1010") || m["address"] != btcAddr(1010) || m["uri"] != "bitcoin:"+btcAddr(1010)+"?amount=0.015" ||
		m["amount"] != "0.015" || m["amount_atomic"] != "1500000" {
		t.Errorf("fixed index: %v", m)
	}
	// The same index again is the same address.
	m = wantOK(t, h.send("POST", "/addresses", "application/x-www-form-urlencoded", []byte("chain=btc&index=1010&amount=2")))
	if m["address"] != btcAddr(1010) || m["uri"] != "bitcoin:"+btcAddr(1010)+"?amount=2" {
		t.Errorf("fixed index again: %v", m)
	}
	// A JSON number amount is read exactly.
	m = wantOK(t, h.postJSON("/addresses", `{"chain":"btc","amount":0.1}`))
	if m["amount_atomic"] != "10000000" || !strings.HasSuffix(m["uri"].(string), "?amount=0.1") {
		t.Errorf("number amount: %v", m)
	}
	// Next-unused skipped the fixed index? Counter goes on from 3.
	if m["index"] != json.Number("2") {
		t.Errorf("next unused after fixed index: %v", m)
	}
	// Monero: a new subaddress, tx_amount in the URI.
	m = wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "xmr", "amount": "1.5"}))
	if m["account_index"] != json.Number("0") || m["subaddress_index"] != json.Number("1") || m["index"] != nil ||
		m["uri"] != "monero:"+m["address"].(string)+"?tx_amount=1.5" {
		t.Errorf("xmr: %v", m)
	}
	// With a URL: subscribed in the same call.
	m = wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "btc", "url": publicURL, "max_confirms": 6, "format": "form"}))
	s := m["subscription"].(map[string]any)
	if s["max_confirms"] != json.Number("6") || s["format"] != "form" || !strings.HasPrefix(s["secret"].(string), ipn.SecretPrefix) {
		t.Errorf("with url: %v", m)
	}
	sid, _ := s["id"].(json.Number).Int64()
	if sub, err := h.l.Subscription(ctx, sid); err != nil || sub.Address != m["address"] || sub.URL != publicURL {
		t.Errorf("subscription in ledger: %+v %v", sub, err)
	}
	// An index whose address the ledger has under another: conflict.
	seven := uint32(7)
	if _, err := h.l.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: "bcrt1qsomeoneelse77", DerivationIndex: &seven}); err != nil {
		t.Fatal(err)
	}
	before, _ := h.l.HighestDerivationIndex(ctx, chains.BTC)
	cases := []struct {
		name  string
		a     answer
		code  int
		field string
	}{
		{"index taken", h.postJSON("/addresses", map[string]any{"chain": "btc", "index": 7}), 409, "index"},
		{"no chain", h.postJSON("/addresses", map[string]any{}), 400, "chain"},
		{"unknown chain", h.postJSON("/addresses", map[string]any{"chain": "eth"}), 400, "chain"},
		{"chain number", h.postJSON("/addresses", map[string]any{"chain": 1}), 400, "chain"},
		{"xmr index", h.postJSON("/addresses", map[string]any{"chain": "xmr", "index": 3}), 400, "index"},
		{"index too big", h.postJSON("/addresses", map[string]any{"chain": "btc", "index": 2147483648}), 400, "index"},
		{"index fraction", h.postJSON("/addresses", `{"chain":"btc","index":1.5}`), 400, "index"},
		{"amount too precise", h.postJSON("/addresses", map[string]any{"chain": "btc", "amount": "0.123456789"}), 400, "amount"},
		{"amount exponent", h.postJSON("/addresses", `{"chain":"btc","amount":1e-3}`), 400, "amount"},
		{"amount negative", h.postJSON("/addresses", `{"chain":"btc","amount":-1}`), 400, "amount"},
		{"amount words", h.postJSON("/addresses", map[string]any{"chain": "btc", "amount": "ten"}), 400, "amount"},
		{"amount overflow", h.postJSON("/addresses", map[string]any{"chain": "btc", "amount": "999999999999999"}), 400, "amount"},
		{"amount bool", h.postJSON("/addresses", `{"chain":"btc","amount":true}`), 400, "amount"},
		{"label too long", h.postJSON("/addresses", map[string]any{"chain": "btc", "label": strings.Repeat("x", 201)}), 400, "label"},
		{"bad url", h.postJSON("/addresses", map[string]any{"chain": "btc", "url": "http://192.168.1.1/"}), 400, "url"},
		{"bad format", h.postJSON("/addresses", map[string]any{"chain": "btc", "format": "yaml"}), 400, "format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantError(t, c.a, c.code, c.field) })
	}
	if after, _ := h.l.HighestDerivationIndex(ctx, chains.BTC); after != before {
		t.Errorf("refused requests allocated addresses: max index %d -> %d", before, after)
	}
}

func TestOriginalEndpoints(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	addr := h.allocBTC()
	// Nothing received yet: zeros.
	if a := h.get("/btc?address=" + addr); a.code != 200 || string(a.body) != `{"confirmed":0,"unconfirmed":0}`+"\n" {
		t.Fatalf("/btc empty: %d %s", a.code, a.body)
	}
	h.mine(chains.BTC, pay("a", addr, 10_000_000))
	h.mine(chains.BTC, pay("b", addr, 2_100_000_000_000_000-10_000_000)) // a+b = 21M BTC
	h.mine(chains.BTC)
	h.mempool(chains.BTC, pay("c", addr, 19_999_999))
	want := `{"confirmed":0.1,"unconfirmed":21000000.09999999}` + "\n"
	for name, a := range map[string]answer{
		"GET":       h.get("/btc?address=" + addr),
		"POST form": h.send("POST", "/btc", "application/x-www-form-urlencoded", []byte("address="+addr)),
		"POST JSON": h.postJSON("/btc", map[string]any{"address": addr}),
	} {
		if a.code != 200 || string(a.body) != want {
			t.Errorf("/btc %s: %d %s, want %s", name, a.code, a.body, want)
		}
	}
	if a := h.get("/btc?max_confirms=1&address=" + addr); string(a.body) != `{"confirmed":21000000,"unconfirmed":0.19999999}`+"\n" {
		t.Errorf("/btc max_confirms=1: %s", a.body)
	}
	wantError(t, h.get("/btc?address=nope"), 400, "address")
	wantError(t, h.get("/btc?address="+xmrAddr("x")), 400, "address")
	wantError(t, h.get("/btc?address="+btcAddr(555)), 404, "address")
	wantError(t, h.get("/btc"), 400, "address")

	// /btc_ipn: plain success, form-encoded IPNs.
	a := h.get("/btc_ipn?" + url.Values{"address": {addr}, "url": {publicURL}, "max_confirms": {"2"}}.Encode())
	if a.code != 200 || string(a.body) != "success" || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/btc_ipn: %d %s", a.code, a.body)
	}
	a = h.send("POST", "/btc_ipn", "application/x-www-form-urlencoded",
		[]byte(url.Values{"address": {btcAddr(77)}, "url": {publicURL + "2"}, "max_confirms": {"1"}}.Encode()))
	if a.code != 200 || string(a.body) != "success" {
		t.Fatalf("/btc_ipn POST: %d %s", a.code, a.body)
	}
	var format string
	var mc int
	if err := h.l.DB().QueryRow(`SELECT format, max_confirms FROM subscriptions WHERE url = ?`, publicURL).Scan(&format, &mc); err != nil ||
		format != "form" || mc != 2 {
		t.Errorf("/btc_ipn subscription: %s %d %v", format, mc, err)
	}
	for name, q := range map[string]url.Values{
		"no address":   {"url": {publicURL}},
		"bad address":  {"address": {"x"}, "url": {publicURL}},
		"xmr address":  {"address": {xmrAddr("q")}, "url": {publicURL}},
		"private url":  {"address": {addr}, "url": {"http://10.0.0.1/"}},
		"max_confirms": {"address": {addr}, "url": {publicURL}, "max_confirms": {"1001"}},
		"no url":       {"address": {addr}},
	} {
		a := h.get("/btc_ipn?" + q.Encode())
		if a.code != 400 || string(a.body) != "fail" || a.header.Get("X-Ipnd-Error") == "" {
			t.Errorf("/btc_ipn %s: %d %s", name, a.code, a.body)
		}
	}
	if a := h.send("POST", "/btc_ipn", "application/json", []byte("{")); a.code != 400 || string(a.body) != "fail" {
		t.Errorf("/btc_ipn malformed JSON: %d %s", a.code, a.body)
	}
	h.auth = false
	if a := h.get("/btc_ipn?address=" + addr + "&url=" + publicURL); a.code != 401 || string(a.body) != "fail" {
		t.Errorf("/btc_ipn without key: %d %s", a.code, a.body)
	}
	wantError(t, h.get("/btc?address="+addr), 401, "authorization")
}

func TestAuth(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.auth = false
	for _, rt := range allRoutes() {
		path := strings.ReplaceAll(rt.Path, "{id}", "1")
		a := h.send(rt.Method, path, "", nil)
		if rt.Public {
			if a.code == 401 {
				t.Errorf("%s %s needs a key", rt.Method, rt.Path)
			}
			continue
		}
		if rt.Plain {
			if a.code != 401 || string(a.body) != "fail" {
				t.Errorf("%s %s without key: %d %s", rt.Method, rt.Path, a.code, a.body)
			}
			continue
		}
		wantError(t, a, 401, "authorization")
		if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: no WWW-Authenticate", rt.Method, rt.Path)
		}
	}
	for name, hdr := range map[string]string{
		"wrong key":     "Bearer " + testKey + "x",
		"prefix of key": "Bearer " + testKey[:10],
		"basic":         "Basic " + testKey,
		"bare key":      testKey,
		"empty":         "Bearer ",
	} {
		wantError(t, h.send("GET", "/balance?chain=btc&index=0", "", nil, "Authorization", hdr), 401, "authorization")
		_ = name
	}
	for _, hdr := range []string{"Bearer " + testKey, "Bearer " + otherKey, "bearer " + otherKey} {
		if a := h.send("GET", "/balance?chain=btc&index=0", "", nil, "Authorization", hdr); a.code != 404 {
			t.Errorf("%q: %d %s", hdr, a.code, a.body)
		}
	}

	// allow_unauthenticated on loopback: no key needed.
	u := newHarness(t, harnessOpts{unauth: true})
	u.auth = false
	if a := u.get("/balance?chain=btc&index=0"); a.code != 404 {
		t.Errorf("unauthenticated server: %d %s", a.code, a.body)
	}
	if a := u.get("/metrics"); a.code != 200 {
		t.Errorf("unauthenticated /metrics: %d", a.code)
	}
}

func TestNewRefuses(t *testing.T) {
	l := dbtest.Ledger(t, "sqlite", db.Options{})
	cs := map[chains.Chain]Chain{chains.BTC: newFake(chains.BTC, l)}
	base := func() Options { return testOptions(l, cs, harnessOpts{}) }
	for name, mut := range map[string]func(*Options){
		"unauthenticated on a public listen": func(o *Options) {
			o.Server.AllowUnauthenticated, o.Server.Listen = true, "0.0.0.0:8080"
		},
		"no keys":           func(o *Options) { o.Server.APIKeys = nil },
		"no ledger":         func(o *Options) { o.Ledger = nil },
		"no URL checker":    func(o *Options) { o.CheckURL = nil },
		"no secrets":        func(o *Options) { o.NewSecret = nil },
		"cert without key":  func(o *Options) { o.Server.TLSCert = "x.pem" },
		"missing cert file": func(o *Options) { o.Server.TLSCert, o.Server.TLSKey = "/nonexistent.pem", "/nonexistent.key" },
		"unknown chain":     func(o *Options) { o.Chains = map[chains.Chain]Chain{"doge": newFake(chains.BTC, l)} },
	} {
		o := base()
		mut(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted it", name)
		} else if strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error shows a key: %v", name, err)
		}
	}
	o := base()
	o.Server.APIKeys = nil
	o.Server.AllowUnauthenticated, o.Server.Listen = true, "[::1]:8080"
	if _, err := New(o); err != nil {
		t.Errorf("unauthenticated on ::1: %v", err)
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.send("PUT", "/balance", "", nil)
	wantError(t, a, 405, "method")
	if a.header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("Allow: %q", a.header.Get("Allow"))
	}
	wantError(t, h.send("GET", "/subscribe/1", "", nil), 405, "method")
	wantError(t, h.get("/nope"), 404, "path")
	wantError(t, h.get("/balance/"), 404, "path")
	if a := h.send("HEAD", "/healthz", "", nil); a.code != 200 {
		t.Errorf("HEAD /healthz: %d", a.code)
	}
	if m := wantOK(t, h.get("/healthz")); m["status"] != "ok" {
		t.Errorf("healthz: %v", m)
	}
	var spec map[string]any
	if a := h.get("/openapi.json"); a.code != 200 || json.Unmarshal(a.body, &spec) != nil || spec["openapi"] == nil {
		t.Errorf("openapi.json: %d", a.code)
	}
}

func TestPanicRecovered(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.btc.panics = true
	a := h.get("/balance?address=x")
	if a.code != 500 || a.json(t)["error"] != "internal error" {
		t.Fatalf("panic: %d %s", a.code, a.body)
	}
	h.btc.panics = false
	wantOK(t, h.get("/healthz"))
}

func TestLedgerDown(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	addr := h.allocBTC()
	h.l.Close()
	a := h.get("/balance?address=" + addr)
	if a.code != 503 || a.json(t)["error"] == nil {
		t.Fatalf("ledger closed: %d %s", a.code, a.body)
	}
	r := h.get("/readyz")
	if r.code != 503 || r.json(t)["ledger"].(map[string]any)["ready"] != false {
		t.Fatalf("readyz with ledger closed: %d %s", r.code, r.body)
	}
}

func TestReadyz(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.auth = false
	m := wantOK(t, h.get("/readyz"))
	if m["ready"] != true || m["chains"].(map[string]any)["btc"].(map[string]any)["state"] != "synced" {
		t.Errorf("ready: %v", m)
	}
	h.s.ready.expire() // each change below is read after the answer's cache period
	h.xmr.setStatus(chains.Status{Chain: chains.XMR, State: chains.Unreachable, Height: 10, NodeHeight: 0, Error: "dial tcp 10.9.9.9:18081: refused"})
	a := h.get("/readyz")
	if a.code != 503 {
		t.Fatalf("unreachable chain: %d %s", a.code, a.body)
	}
	m = a.json(t)
	x := m["chains"].(map[string]any)["xmr"].(map[string]any)
	if m["ready"] != false || x["state"] != "unreachable" || x["ready"] != false {
		t.Errorf("unreachable chain: %s", a.body)
	}
	if strings.Contains(string(a.body), "10.9.9.9") {
		t.Error("readyz shows a chain error to unauthenticated callers")
	}
	h.xmr.setState(chains.Behind)
	h.s.ready.expire()
	if a := h.get("/readyz"); a.code != 503 {
		t.Errorf("behind chain: %d", a.code)
	}
	h.xmr.setState(chains.Synced)
	h.s.ready.expire()
	if a := h.get("/readyz"); a.code != 200 {
		t.Errorf("synced again: %d", a.code)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	addr := h.allocBTC()
	h.mine(chains.BTC, pay("m", addr, 1))
	wantOK(t, h.get("/balance?address="+addr))
	h.get("/balance?address=nope")
	wantOK(t, h.postJSON("/subscribe", map[string]any{"address": addr, "url": publicURL}))
	h.btc.setStatus(chains.Status{Chain: chains.BTC, State: chains.Behind, Height: 90, NodeHeight: 100, Behind: 10})
	a := h.get("/metrics")
	if a.code != 200 {
		t.Fatalf("/metrics: %d", a.code)
	}
	text := string(a.body)
	for _, l := range []string{
		`ipnd_http_requests_total{code="200",method="GET",route="/balance"} 1`,
		`ipnd_http_requests_total{code="400",method="GET",route="/balance"} 1`,
		`ipnd_http_requests_total{code="200",method="POST",route="/addresses"} 1`,
		`ipnd_chain_height{chain="btc"} 90`,
		`ipnd_chain_lag_blocks{chain="btc"} 10`,
		`ipnd_chain_state{chain="btc",state="behind"} 1`,
		`ipnd_notifications{state="pending"} 1`,
	} {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("metrics lack %s", l)
		}
	}
	if strings.Contains(text, addr) {
		t.Error("metrics carry an address")
	}
}
