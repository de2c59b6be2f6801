package main

import (
	"github.com/ipnd/ipnd/internal/testenv"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBehindReverseProxy: ipnd listening plain behind a TLS reverse proxy
// (the proxy at 127.0.0.1 listed in server.trusted_proxies, public_url
// https). The console's cookies are Secure; the sign-in and checkout rate
// limits count each client named by X-Forwarded-For, not the proxy (every
// customer behind it shared one budget). Without trusted_proxies the
// header is the client's own word and is ignored.
func TestBehindReverseProxy(t *testing.T) {
	start := func(trusted string) string {
		listen := testenv.FreeAddr(t)
		env := []string{"IPND_SERVER_LISTEN=" + listen, "IPND_SERVER_API_KEYS=test-api-key-0123456789",
			"IPND_DATABASE_DSN=" + t.TempDir() + "/ipnd.db", "IPND_INVOICES_PUBLIC_URL=https://pay.shop.example",
			"IPND_INVOICES_CHECKOUT_RATE=5", "IPND_SERVER_TRUSTED_PROXIES=" + trusted}
		p := startIpnd(t, env, &syncBuffer{}, "http://"+listen, "-roles", "api")
		t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
		return "http://" + listen
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, u, forwardedFor string) *http.Response {
		t.Helper()
		var body *strings.Reader
		if method == http.MethodPost {
			body = strings.NewReader(url.Values{"key": {"wrong-key"}}.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// limited sends requests as one client until one is answered 429.
	limited := func(method, u, forwardedFor string) {
		t.Helper()
		for i := 0; ; i++ {
			if do(method, u, forwardedFor).StatusCode == http.StatusTooManyRequests {
				return
			}
			if i > 20 {
				t.Fatalf("%s %s as %s: no 429 after %d requests", method, u, forwardedFor, i)
			}
		}
	}
	const a, b = "198.51.100.1, 203.0.113.1", "203.0.113.2"

	proxied := start("127.0.0.1, 10.0.0.0/8")
	resp := do(http.MethodGet, proxied+"/console/signin", "")
	if c := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(c, "__Secure-") || !strings.Contains(c, "; Secure") {
		t.Errorf("console cookie behind a TLS proxy (public_url https): %q, want Secure and __Secure-", c)
	}
	for _, path := range []string{"/console/signin", "/pay/assets/checkout.css"} {
		method := http.MethodGet
		if strings.HasPrefix(path, "/console") {
			method = http.MethodPost
		}
		limited(method, proxied+path, a)
		if code := do(method, proxied+path, b).StatusCode; code == http.StatusTooManyRequests {
			t.Errorf("%s %s: another client behind the proxy was limited with the first", method, path)
		}
	}

	direct := start("")
	limited(http.MethodPost, direct+"/console/signin", a)
	if code := do(http.MethodPost, direct+"/console/signin", b).StatusCode; code != http.StatusTooManyRequests {
		t.Errorf("without trusted_proxies, X-Forwarded-For gave a fresh budget: %d", code)
	}
}
