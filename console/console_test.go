package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/console"
)

func TestNewChecksOptions(t *testing.T) {
	store := newFakeStore(time.Now)
	auth := console.Keys(testKey)
	for name, o := range map[string]console.Options{
		"no store":        {Auth: auth},
		"no auth":         {Store: store},
		"prefix no slash": {Store: store, Auth: auth, Prefix: "console"},
		"prefix trailing": {Store: store, Auth: auth, Prefix: "/console/"},
		"prefix pattern":  {Store: store, Auth: auth, Prefix: "/con{sole}"},
	} {
		if _, err := console.New(o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
	if _, err := console.New(console.Options{Store: store, Auth: auth, Prefix: "/ops/console"}); err != nil {
		t.Errorf("a nested prefix: %v", err)
	}
}

// Every answer carries the strict CSP and the other security headers:
// pages, redirects, errors, assets, event streams and refused forms.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	h := newHarness(t)
	anon := h.client()
	c := h.signedIn()
	check := func(what string, hdr http.Header) {
		t.Helper()
		if got := hdr.Get("Content-Security-Policy"); got != console.CSP {
			t.Errorf("%s: CSP %q", what, got)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if hdr.Get(k) != v {
				t.Errorf("%s: %s %q, want %q", what, k, hdr.Get(k), v)
			}
		}
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(console.CSP, want) {
			t.Errorf("the CSP lacks %s", want)
		}
	}
	if strings.Contains(console.CSP, "unsafe") {
		t.Errorf("the CSP allows something unsafe: %s", console.CSP)
	}
	for _, p := range []string{"/console", "/console/", "/console/signin", "/console/addresses", "/console/static/console.css",
		"/console/static/console.js", "/console/static/nothing.css", "/console/nowhere", "/console/subscriptions/999"} {
		check("anonymous GET "+p, anon.get(p).header)
	}
	check("wrong key", anon.post("/console/signin", url.Values{"key": {"nope"}}).header)
	for _, p := range []string{"/console", "/console/addresses?q=order", "/console/subscriptions?state=failing", "/console/subscriptions/2",
		"/console/endpoints", "/console/notifications", "/console/invoices", "/console/nowhere", "/console/subscriptions/x",
		"/console/addresses?after=bogus"} {
		a := c.get(p)
		check("GET "+p, a.header)
		if strings.HasPrefix(a.header.Get("Content-Type"), "text/html") && a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", p, a.header.Get("Cache-Control"))
		}
	}
	check("action without token", c.post("/console/subscriptions/2/redeliver", url.Values{}).header)
	check("action", c.post("/console/subscriptions/2/redeliver", url.Values{"csrf": {c.csrf()}}).header)

	status, events, cancel := c.stream("/console/events/overview")
	defer cancel()
	if status != http.StatusOK {
		t.Fatalf("event stream: %d", status)
	}
	next(t, events, false)
	// The stream's headers: read again with a plain request and hang up.
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/console/events/overview", nil)
	for _, ck := range c.http.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	check("event stream", resp.Header)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("event stream Content-Type %q", ct)
	}
}

// The pages work without JavaScript: the live pages refresh themselves in
// <noscript>, every action is a plain form.
func TestWorksWithoutJavaScript(t *testing.T) {
	h := newHarness(t)
	c := h.signedIn()
	for _, p := range []string{"/console/", "/console/subscriptions/2"} {
		body := c.get(p).body
		if !strings.Contains(body, `<noscript><meta http-equiv="refresh"`) {
			t.Errorf("%s: no refresh fallback", p)
		}
		if !strings.Contains(body, `<script src="/console/static/console.js?v=`) || !strings.Contains(body, " defer>") {
			t.Errorf("%s: the script is not an external deferred file", p)
		}
	}
	body := c.get("/console/subscriptions/2").body
	if !strings.Contains(body, `<form method="post" action="/console/subscriptions/2/redeliver">`) {
		t.Error("redeliver is not a plain form")
	}
	if strings.Contains(body, " style=") || strings.Contains(body, " onclick=") || strings.Contains(body, "<script>") {
		t.Error("inline style or script on a page")
	}
	a := c.get("/console/static/console.js?v=bogus")
	if a.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("an asset at an old version may be cached: %q", a.header.Get("Cache-Control"))
	}
}
