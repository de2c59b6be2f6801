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

func TestKeys(t *testing.T) {
	auth := console.Keys("alpha-key-0123456789", "", "beta-key-0123456789")
	for key, want := range map[string]bool{
		"alpha-key-0123456789":  true,
		"beta-key-0123456789":   true,
		"alpha-key-012345678":   false, // a prefix
		"alpha-key-01234567890": false,
		"ALPHA-KEY-0123456789":  false,
		"":                      false, // the empty key in the list is dropped
	} {
		if got := auth.Authenticate(key); got != want {
			t.Errorf("Authenticate(%q) = %v, want %v", key, got, want)
		}
	}
	if console.Keys().Authenticate("") {
		t.Error("no keys: the empty key was accepted")
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

// Anonymous visitors are sent to the sign-in page; event streams answer 401.
func TestSignInRequired(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	for _, p := range []string{"/console", "/console/", "/console/subscriptions/2", "/console/endpoints"} {
		a := c.get(p)
		if a.status != http.StatusSeeOther || a.header.Get("Location") != "/console/signin" {
			t.Errorf("GET %s: %d to %q, want 303 to the sign-in page", p, a.status, a.header.Get("Location"))
		}
	}
	if status, _, cancel := c.stream("/console/events/overview"); status != http.StatusUnauthorized {
		t.Errorf("anonymous event stream: %d, want 401", status)
		cancel()
	}
	if a := c.post("/console/subscriptions/2/redeliver", url.Values{"csrf": {"x"}}); a.status != http.StatusUnauthorized {
		t.Errorf("anonymous action: %d, want 401", a.status)
	}
	if n := len(h.store.redeliveries()); n != 0 {
		t.Errorf("%d redeliveries by anonymous visitors", n)
	}
}

func sessionCookieOf(a answer, name string) *http.Cookie {
	for _, ck := range a.cookies {
		if ck.Name == name && ck.Value != "" {
			return ck
		}
	}
	return nil
}

// The session cookie: HttpOnly, SameSite=Strict, scoped to the console,
// with an expiry; Secure and __Secure- prefixed under TLS.
func TestSessionCookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		h := newHarness(t, func(o *console.Options) { o.Secure = secure; o.SessionTTL = 8 * time.Hour })
		c := h.client()
		form := c.get("/console/signin")
		// Under Secure the jar would not send the form cookie over http:
		// hand it over explicitly.
		var formCookie *http.Cookie
		for _, ck := range form.cookies {
			formCookie = ck
		}
		if formCookie == nil {
			t.Fatalf("secure=%v: the sign-in form set no cookie", secure)
		}
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/console/signin",
			strings.NewReader(url.Values{"key": {testKey}, "csrf": {token(t, form.body)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(formCookie)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("secure=%v: sign-in %d", secure, resp.StatusCode)
		}
		name := "ipnd_console"
		if secure {
			name = "__Secure-ipnd_console"
		}
		ck := sessionCookieOf(answer{cookies: resp.Cookies()}, name)
		if ck == nil {
			t.Fatalf("secure=%v: no %s cookie in %v", secure, name, resp.Header["Set-Cookie"])
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" || ck.Secure != secure {
			t.Errorf("secure=%v: cookie %q: HttpOnly %v SameSite %v Path %q Secure %v", secure, ck.Raw, ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure)
		}
		if ck.MaxAge != 8*3600 || ck.Expires.IsZero() {
			t.Errorf("secure=%v: cookie %q: want Max-Age 28800 and an Expires", secure, ck.Raw)
		}
		if len(ck.Value) < 40 {
			t.Errorf("secure=%v: session id %q is short", secure, ck.Value)
		}
		if secure && resp.Header.Get("Strict-Transport-Security") == "" {
			t.Error("secure: no Strict-Transport-Security")
		}
	}
}

// A wrong key is refused with the same answer whatever was wrong, and no
// session is made.
func TestWrongKeyRefused(t *testing.T) {
	h := newHarness(t)
	var messages []string
	for _, key := range []string{"", "nope", testKey[:10], testKey + "x", strings.Repeat("k", 5000)} {
		c := h.client()
		a := c.signIn(key)
		if a.status != http.StatusUnauthorized {
			t.Errorf("key %.20q: %d, want 401", key, a.status)
		}
		if sessionCookieOf(a, "ipnd_console") != nil {
			t.Errorf("key %.20q: a session cookie was set", key)
		}
		msg := a.body[strings.Index(a.body, `id="flash"`):]
		messages = append(messages, msg[:strings.Index(msg, "</div>")])
		if a := c.get("/console/"); a.status != http.StatusSeeOther {
			t.Errorf("key %.20q: the overview answered %d afterwards", key, a.status)
		}
	}
	for _, m := range messages[1:] {
		if m != messages[0] {
			t.Errorf("the refusals differ: %q vs %q", messages[0], m)
		}
	}
	if n := console.Sessions(h.console); n != 0 {
		t.Errorf("%d sessions after wrong keys", n)
	}
}

// Brute force is slowed: after a burst of attempts a client waits, even
// with the right key; another client is not affected; time refills.
func TestSignInRateLimited(t *testing.T) {
	client := "198.51.100.7"
	h := newHarness(t, func(o *console.Options) {
		o.ClientAddr = func(r *http.Request) string { return r.Header.Get("X-Test-Client") }
	})
	c := h.client()
	c.header.Set("X-Test-Client", client)
	for i := range 5 {
		if a := c.signIn("wrong"); a.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, a.status)
		}
	}
	a := c.signIn(testKey)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d Retry-After %q, want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	if sessionCookieOf(a, "ipnd_console") != nil {
		t.Error("a limited attempt made a session")
	}
	other := h.client()
	other.header.Set("X-Test-Client", "203.0.113.9")
	if a := other.signIn(testKey); a.status != http.StatusSeeOther {
		t.Errorf("another client: %d", a.status)
	}
	h.clock.advance(10 * time.Second)
	if a := c.signIn(testKey); a.status != http.StatusSeeOther {
		t.Errorf("after 10 s: %d, want a sign-in", a.status)
	}
}

// The sign-in form itself is protected: no form cookie or a token that
// does not match it is refused, as is a post from another site.
func TestSignInFormToken(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	if a := c.post("/console/signin", url.Values{"key": {testKey}, "csrf": {"guess"}}); a.status != http.StatusForbidden {
		t.Errorf("no form cookie: %d, want 403", a.status)
	}
	c.get("/console/signin")
	if a := c.post("/console/signin", url.Values{"key": {testKey}, "csrf": {"guess"}}); a.status != http.StatusForbidden {
		t.Errorf("wrong form token: %d, want 403", a.status)
	}
	form := c.get("/console/signin")
	c.header.Set("Sec-Fetch-Site", "cross-site")
	if a := c.post("/console/signin", url.Values{"key": {testKey}, "csrf": {token(t, form.body)}}); a.status != http.StatusForbidden {
		t.Errorf("cross-site sign-in: %d, want 403", a.status)
	}
	if n := console.Sessions(h.console); n != 0 {
		t.Errorf("%d sessions", n)
	}
}

// A state-changing form is refused without the session's token, with
// another session's token, or from another origin; the store is not asked.
func TestCSRF(t *testing.T) {
	h := newHarness(t)
	c := h.signedIn()
	other := h.signedIn()
	tok, otherTok := c.csrf(), other.csrf()
	if tok == otherTok {
		t.Fatal("two sessions share a CSRF token")
	}
	for name, form := range map[string]url.Values{
		"no token":            {},
		"empty token":         {"csrf": {""}},
		"wrong token":         {"csrf": {tok + "x"}},
		"other session token": {"csrf": {otherTok}},
	} {
		if a := c.post("/console/subscriptions/2/redeliver", form); a.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, a.status)
		}
	}
	// The token in the query string does not count either.
	if a := c.post("/console/subscriptions/2/redeliver?csrf="+url.QueryEscape(tok), url.Values{}); a.status != http.StatusForbidden {
		t.Errorf("token in the query: %d, want 403", a.status)
	}
	for name, hdr := range map[string][2]string{
		"cross-site fetch": {"Sec-Fetch-Site", "cross-site"},
		"same-site fetch":  {"Sec-Fetch-Site", "same-site"},
		"foreign origin":   {"Origin", "https://evil.example"},
	} {
		c.header.Set(hdr[0], hdr[1])
		if a := c.post("/console/subscriptions/2/redeliver", url.Values{"csrf": {tok}}); a.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, a.status)
		}
		c.header.Del(hdr[0])
	}
	if n := len(h.store.redeliveries()); n != 0 {
		t.Fatalf("%d redeliveries from refused forms", n)
	}
	c.header.Set("Sec-Fetch-Site", "same-origin")
	c.header.Set("Origin", h.srv.URL)
	a := c.post("/console/subscriptions/2/redeliver", url.Values{"csrf": {tok}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/console/subscriptions/2" {
		t.Fatalf("a good form: %d to %q", a.status, a.header.Get("Location"))
	}
	if got := h.store.redeliveries(); len(got) != 1 || got[0] != 2 {
		t.Errorf("redeliveries %v, want [2]", got)
	}
	page := c.get("/console/subscriptions/2").body
	if !strings.Contains(page, "Redelivering subscription 2: its current totals are due now.") {
		t.Error("no flash message after the redirect")
	}
	if strings.Contains(c.get("/console/subscriptions/2").body, "due now") {
		t.Error("the flash message is shown twice")
	}
}

// Signing out ends the session: its cookie opens nothing any more, its
// forms are refused and its live stream ends.
func TestSignOut(t *testing.T) {
	h := newHarness(t)
	c := h.signedIn()
	tok := c.csrf()
	status, events, cancel := c.stream("/console/events/overview")
	defer cancel()
	if status != http.StatusOK {
		t.Fatalf("stream %d", status)
	}
	next(t, events, false)
	// Keep the cookie to replay it after signing out.
	u, _ := url.Parse(h.srv.URL + "/console/")
	old := c.http.Jar.Cookies(u)
	a := c.post("/console/signout", url.Values{"csrf": {tok}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/console/signin" {
		t.Fatalf("sign-out: %d to %q", a.status, a.header.Get("Location"))
	}
	if ev := next(t, events, false); ev.name != "end" {
		t.Errorf("the stream sent %q after sign-out, want end", ev.name)
	}
	replay := h.client()
	replay.http.Jar.SetCookies(u, old)
	if a := replay.get("/console/"); a.status != http.StatusSeeOther {
		t.Errorf("the old cookie still opens the overview: %d", a.status)
	}
	if a := replay.post("/console/subscriptions/2/redeliver", url.Values{"csrf": {tok}}); a.status != http.StatusUnauthorized {
		t.Errorf("the old session's form: %d, want 401", a.status)
	}
	eventually(t, "the stream closes", func() bool { return console.OpenStreams(h.console) == 0 })
}

// Sessions end after the idle timeout and after their lifetime.
func TestSessionExpiry(t *testing.T) {
	h := newHarness(t, func(o *console.Options) { o.IdleTimeout = 30 * time.Minute; o.SessionTTL = 2 * time.Hour })
	c := h.signedIn()
	h.clock.advance(29 * time.Minute)
	if a := c.get("/console/"); a.status != http.StatusOK {
		t.Fatalf("after 29 idle minutes: %d", a.status)
	}
	h.clock.advance(31 * time.Minute)
	if a := c.get("/console/"); a.status != http.StatusSeeOther {
		t.Errorf("after 31 idle minutes: %d, want the sign-in redirect", a.status)
	}
	c = h.signedIn()
	for range 5 {
		h.clock.advance(25 * time.Minute)
		c.get("/console/")
	}
	if a := c.get("/console/"); a.status != http.StatusSeeOther {
		t.Errorf("a busy session past its 2 h lifetime: %d, want the sign-in redirect", a.status)
	}
	if n := console.Sessions(h.console); n != 0 {
		t.Errorf("%d sessions kept after expiry", n)
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
	for _, p := range []string{"/console/addresses", "/console/subscriptions", "/console/subscriptions/2", "/console/addresses?q=" + url.QueryEscape(hostile)} {
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

// Each list shows what the store gives, with filters passed through and
// the next page linked.
func TestPages(t *testing.T) {
	h := newHarness(t)
	c := h.signedIn()
	for path, want := range map[string][]string{
		"/console/": {"850000", "push", "polling", "ready", "behind by 12 blocks", "p50 1.2 s", "p95 7 s",
			`href="/console/subscriptions?state=failing"`},
		"/console/addresses?q=order":           {"order 1001", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"},
		"/console/subscriptions?state=failing": {`id="sub-2"`, "failing", "500 Internal Server Error", "0.00250000 BTC"},
		"/console/subscriptions?state=ended":   {`id="sub-3"`, "ended"},
		"/console/subscriptions/2":             {"failing", "receiver answered 500", "Redeliver now", "End subscription"},
		"/console/endpoints":                   {goodURL, "Rotate secret", "Redeliver 1 failing"},
		"/console/notifications":               {`id="note-2"`, `id="note-1"`},
		"/console/invoices":                    {"No invoice matches."},
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

// Rotating a secret needs the confirmation box, shows the new secret on
// the next page once, and never again.
func TestRotateSecretShownOnce(t *testing.T) {
	h := newHarness(t)
	c := h.signedIn()
	tok := c.csrf()
	a := c.post("/console/endpoints/rotate", url.Values{"csrf": {tok}, "url": {goodURL}})
	if body := c.get(a.header.Get("Location")).body; !strings.Contains(body, "tick the box") {
		t.Error("rotation without confirmation was not refused")
	}
	a = c.post("/console/endpoints/rotate", url.Values{"csrf": {tok}, "url": {goodURL}, "confirm": {"yes"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("rotate: %d", a.status)
	}
	loc := a.header.Get("Location")
	if loc != "/console/endpoints?prefix="+url.QueryEscape(goodURL) {
		t.Errorf("rotate redirects to %q", loc)
	}
	page := c.get(loc)
	if !strings.Contains(page.body, `value="whsec_rotated0002"`) && !strings.Contains(page.body, `value="whsec_rotated0001"`) {
		t.Fatalf("the new secret is not shown:\n%s", page.body)
	}
	if page.header.Get("Cache-Control") != "no-store" {
		t.Error("the page with the secret may be cached")
	}
	if strings.Contains(c.get(loc).body, "whsec_rotated") {
		t.Error("the secret is shown a second time")
	}
	if a := c.post("/console/endpoints/rotate", url.Values{"csrf": {tok}, "url": {"https://unknown.example/"}, "confirm": {"yes"}}); !strings.Contains(c.get(a.header.Get("Location")).body, "not found") {
		t.Error("rotating an unknown endpoint did not say so")
	}
}

func TestEndpointAndSubscriptionActions(t *testing.T) {
	h := newHarness(t)
	c := h.signedIn()
	tok := c.csrf()
	a := c.post("/console/endpoints/redeliver", url.Values{"csrf": {tok}, "url": {brokenURL}})
	if body := c.get(a.header.Get("Location")).body; !strings.Contains(body, "Redelivering 1 failing subscription to "+strings.ReplaceAll(brokenURL, "&", "&amp;")) {
		t.Errorf("redeliver failing: no message:\n%s", body)
	}
	if got := h.store.redeliveries(); len(got) != 1 || got[0] != 2 {
		t.Errorf("redeliveries %v", got)
	}
	a = c.post("/console/subscriptions/2/end", url.Values{"csrf": {tok}})
	if body := c.get(a.header.Get("Location")).body; !strings.Contains(body, "tick the box") {
		t.Error("ending without confirmation was not refused")
	}
	a = c.post("/console/subscriptions/2/end", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	body := c.get(a.header.Get("Location")).body
	if !strings.Contains(body, "Subscription 2 ended") || strings.Contains(body, "Redeliver now") {
		t.Error("ending a subscription: no message, or its actions are still offered")
	}
	a = c.post("/console/subscriptions/2/end", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	if body := c.get(a.header.Get("Location")).body; !strings.Contains(body, "not found, or already ended") {
		t.Error("ending twice did not say so")
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

// Live streams: an update at once, another when the store changes (on the
// Notifier's wake-up), heartbeat comments, a per-session bound, and the
// stream's end when the client goes away or the console closes.
func TestLiveStream(t *testing.T) {
	h := newHarness(t, func(o *console.Options) { o.MaxStreamsPerSession = 2; o.Refresh = time.Hour })
	console.SetHeartbeat(h.console, 50*time.Millisecond)
	c := h.signedIn()
	status, events, cancel := c.stream("/console/events/subscriptions/2")
	if status != http.StatusOK {
		t.Fatal(status)
	}
	if ev := next(t, events, false); ev.name != "update" || !strings.Contains(ev.data, "failing") {
		t.Fatalf("first event %q: %s", ev.name, ev.data)
	}
	next(t, events, true) // a heartbeat comment
	h.store.setReceiver(brokenURL, 200)
	h.store.mu.Lock()
	h.store.newNote(2, 250_000, 10_000)
	h.store.mu.Unlock()
	h.store.deliverDue() // wakes the stream through the Broadcaster (polling is hourly here)
	if ev := next(t, events, false); ev.name != "update" || !strings.Contains(ev.data, "acknowledged") {
		t.Fatalf("after delivery %q: %s", ev.name, ev.data)
	}

	s2, _, cancel2 := c.stream("/console/events/overview")
	if s2 != http.StatusOK {
		t.Fatal(s2)
	}
	if s3, _, cancel3 := c.stream("/console/events/overview"); s3 != http.StatusTooManyRequests {
		t.Errorf("a third stream for the session: %d, want 429", s3)
		cancel3()
	}
	// Another session has its own allowance.
	other := h.signedIn()
	s4, _, cancel4 := other.stream("/console/events/overview")
	if s4 != http.StatusOK {
		t.Errorf("another session's stream: %d", s4)
	}
	eventually(t, "three streams open", func() bool { return console.OpenStreams(h.console) == 3 })
	cancel()
	cancel2()
	eventually(t, "the hung-up streams end", func() bool { return console.OpenStreams(h.console) == 1 })
	h.console.Close()
	eventually(t, "Close ends the last stream", func() bool { return console.OpenStreams(h.console) == 0 })
	cancel4()
	if s, _, _ := c.stream("/console/events/subscriptions/999"); s != http.StatusUnauthorized && s != http.StatusNotFound {
		t.Errorf("stream after Close / of an unknown subscription: %d", s)
	}
}

func TestBroadcaster(t *testing.T) {
	b := console.NewBroadcaster()
	ch1, stop1 := b.Watch()
	ch2, stop2 := b.Watch()
	b.Notify()
	b.Notify() // coalesced: one wake-up waits
	for i, ch := range []<-chan struct{}{ch1, ch2} {
		select {
		case <-ch:
		default:
			t.Errorf("watcher %d was not woken", i+1)
		}
		select {
		case <-ch:
			t.Errorf("watcher %d got two wake-ups", i+1)
		default:
		}
	}
	stop1()
	b.Notify()
	select {
	case <-ch1:
		t.Error("a stopped watcher was woken")
	default:
	}
	<-ch2
	stop2()
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
