package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/internal/testenv"
)

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
	testenv.WaitFor(t, 10*time.Second, "the stream closes", func() bool { return console.OpenStreams(h.console) == 0 })
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
