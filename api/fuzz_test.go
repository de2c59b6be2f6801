package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/chains"
)

// FuzzParams decodes arbitrary bodies and query strings and reads every
// field kind from them: no panic, and every refusal is a 4xx *Error naming
// a field.
func FuzzParams(f *testing.F) {
	for _, s := range []struct{ ctype, body, query string }{
		{"application/json", `{"address":"bcrt1qabc","max_confirms":3,"amount":"0.01"}`, ""},
		{"application/json", `{"max_confirms":3.5,"amount":1e-3,"index":-1}`, "address=x"},
		{"application/json", `{"address":null,"index":"12","amount":0.1}`, ""},
		{"application/json", `[1,2]`, ""},
		{"application/json", `{"a":1} trailing`, ""},
		{"application/json; charset=utf-8", "{\"address\":\"\\u0000\"}", ""},
		{"application/x-www-form-urlencoded", "address=a&address=b&max_confirms=1001", "index=2147483648"},
		{"application/x-www-form-urlencoded", "amount=%zz", ""},
		{"multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"address\"\r\n\r\nx\r\n--B--\r\n", ""},
		{"", "{\"address\":\"x\"}", ""},
		{"", "address=x", "max_confirms=00000000000000000000003"},
		{"text/plain", "hi", ""},
		{"application/json", `{"amount":"18446744073709551616"}`, ""},
		{";;", "x", "%"},
	} {
		f.Add(s.ctype, []byte(s.body), s.query)
	}
	f.Fuzz(func(t *testing.T, ctype string, body []byte, query string) {
		check := func(err error) {
			if err == nil {
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Field == "" || e.Message == "" {
				t.Fatalf("refusal %#v is not a 4xx field error", err)
			}
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			q = url.Values{}
		}
		p, err := parseParams(ctype, body, q)
		check(err)
		if err != nil {
			return
		}
		for _, field := range []string{"address", "url", "label", "chain", "format"} {
			v, ok, err := p.str(field, 64)
			check(err)
			if ok && (len(v) > 64 || v != strings.TrimSpace(v)) {
				t.Fatalf("%s = %q", field, v)
			}
		}
		for _, field := range []string{"max_confirms", "index"} {
			n, ok, err := p.uint(field, 0, 1000)
			check(err)
			if ok && n > 1000 {
				t.Fatalf("%s = %d out of range", field, n)
			}
		}
		for _, c := range chains.All {
			a, ok, err := p.amount("amount", c)
			check(err)
			if ok {
				// The amount read equals the decimal given, exactly.
				raw, isJSON, _, _ := p.raw("amount")
				if isJSON && strings.HasPrefix(raw, `"`) {
					json.Unmarshal([]byte(raw), &raw)
				}
				if !chains.DecimalEqual(strings.TrimSpace(raw), c.FormatAmount(a)) {
					t.Fatalf("amount %q read as %d %s", raw, a, c)
				}
			}
		}
	})
}

// FuzzAmountFormat: the short decimal and the payment URI carry exactly the
// atomic amount, with no trailing zeros, for every chain.
func FuzzAmountFormat(f *testing.F) {
	for _, v := range []uint64{0, 1, 10, 100_000_000, 150_000_000, 1_500_000_000_000, 2_100_000_000_000_000, 1<<64 - 1, 12_345_678_901} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v uint64) {
		for _, c := range chains.All {
			s := shortAmount(c, v)
			if strings.Contains(s, ".") && (strings.HasSuffix(s, "0") || strings.HasSuffix(s, ".")) {
				t.Fatalf("%s %d: %q has trailing zeros", c, v, s)
			}
			back, err := c.ParseAmount(s)
			if err != nil || back != v {
				t.Fatalf("%s %d: %q parses back as %d (%v)", c, v, s, back, err)
			}
			// A JSON number of exactly that value (checked with rationals).
			var n json.Number
			if err := json.Unmarshal(jsonAmount(c, v), &n); err != nil {
				t.Fatalf("%s %d: %s is not a JSON number: %v", c, v, jsonAmount(c, v), err)
			}
			want := new(big.Rat).SetFrac(new(big.Int).SetUint64(v), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Decimals())), nil))
			got, ok := new(big.Rat).SetString(n.String())
			if !ok || got.Cmp(want) != 0 {
				t.Fatalf("%s %d: JSON %s", c, v, n)
			}
			addr := "addr" + s
			uri := PaymentURI(c, addr, v)
			u, err := url.Parse(uri)
			if err != nil {
				t.Fatalf("%s: %q: %v", c, uri, err)
			}
			spec, _ := c.Spec()
			key := spec.URIAmountKey
			if v == 0 {
				if u.RawQuery != "" {
					t.Fatalf("zero amount in %q", uri)
				}
				continue
			}
			if got, err := c.ParseAmount(u.Query().Get(key)); err != nil || got != v || u.Opaque != addr {
				t.Fatalf("%s %d: URI %q", c, v, uri)
			}
		}
	})
}

// FuzzRequests sends arbitrary requests through the whole handler (with a
// real SQLite ledger and fake chains): never a 5xx, never a panic, and every
// 4xx except /btc_ipn's is a JSON error naming a field.
func FuzzRequests(f *testing.F) {
	h := newHarness(f, harnessOpts{})
	addr := h.allocBTC()
	seeds := []struct{ method, target, ctype, body string }{
		{"GET", "/balance?address=" + addr, "", ""},
		{"POST", "/balance", "application/json", `{"address":"` + addr + `","max_confirms":"7"}`},
		{"POST", "/balance", "application/json", `{"chain":"btc","index":0}`},
		{"POST", "/subscribe", "application/json", `{"address":"` + addr + `","url":"http://93.184.216.34/x","format":"form"}`},
		{"POST", "/subscribe", "application/x-www-form-urlencoded", "address=" + addr + "&url=http://[::1]/"},
		{"DELETE", "/subscribe/1", "", ""},
		{"GET", "/subscriptions/1", "", ""},
		{"POST", "/subscriptions/1/redeliver", "", ""},
		{"POST", "/addresses", "application/json", `{"chain":"btc","index":5,"amount":"0.5","label":"x"}`},
		{"POST", "/addresses", "application/json", `{"chain":"xmr","amount":0.000000000001}`},
		{"GET", "/btc?address=" + addr, "", ""},
		{"POST", "/btc_ipn", "application/x-www-form-urlencoded", "address=" + addr + "&url=http://93.184.216.34/&max_confirms=2"},
		{"GET", "/readyz", "", ""},
		{"PATCH", "/balance", "", ""},
		{"GET", "/subscriptions/%2e%2e", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.ctype, []byte(s.body))
	}
	handler := h.s.Handler()
	f.Fuzz(func(t *testing.T, method, target, ctype string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") {
			return
		}
		req := httptest.NewRequest("GET", "/", bytes.NewReader(body))
		req.Method, req.URL, req.RequestURI = method, u, target
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+testKey)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%s) %q: %d %s", method, target, ctype, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && !(u.Path == "/btc_ipn" && rec.Body.String() == "fail") {
			var e map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] == nil || e["field"] == nil {
				t.Fatalf("%s %s: %d %s is not a field error", method, target, rec.Code, rec.Body)
			}
		}
	})
}
