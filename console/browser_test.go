package console_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ipnd/ipnd/internal/browsertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	browsertest.CloseShared()
	os.Exit(code)
}

// signInBrowser signs the page in through the form, as a person would.
func signInBrowser(t *testing.T, p *browsertest.Page, h *harness) {
	t.Helper()
	if status := p.Navigate(h.srv.URL + "/console/"); status != http.StatusOK {
		t.Fatalf("opening the console: %d", status)
	}
	p.WaitVisible("#key")
	p.Fill("#key", testKey)
	p.Click("#signin")
	p.WaitText("h1", "Overview")
}

// The operator signs in, finds the failing subscription (its receiver
// answers 500), fixes the receiver, presses redeliver and sees the
// delivery acknowledged without a reload, through the event stream.
func TestBrowserRedeliverLive(t *testing.T) {
	h := newHarness(t)
	p := browsertest.NewPage(t)
	signInBrowser(t, p, h)
	p.WaitText("#live-status", "Live")
	p.WaitText("#chain-btc", "ready")
	p.Screenshot("overview")

	// Page weight and time to first render of the overview, loaded afresh
	// with an empty cache (the stylesheet, script and icon included).
	err := chromedp.Do(p.Context(), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	p.Navigate(h.srv.URL + "/console/")
	p.WaitText("#live-status", "Live")
	timing := p.Timing()
	weight := p.Weight()
	t.Logf("overview: %v; %v; document %d bytes", weight, timing, timing.DocumentBytes)
	if timing.FirstContentfulPaint <= 0 || weight.Requests < 4 || weight.Bytes < 8000 {
		t.Errorf("overview: timing %v, weight %v: want a paint and document, stylesheet, script and event stream", timing, weight)
	}

	p.Click("#failing a")
	p.WaitText("h1", "Subscriptions")
	p.WaitText("#sub-2", "failing")
	if got := p.Text("#sub-2 .label"); got != hostile {
		t.Errorf("the hostile label reads %q, want it as text: %q", got, hostile)
	}
	if n, _ := browsertest.Eval[int](p, `document.querySelectorAll("#subscriptions tbody tr").length`); n != 1 {
		t.Errorf("the failing filter shows %d subscriptions, want 1", n)
	}
	p.Screenshot("failing")

	p.Click("#sub-2 a")
	p.WaitText("h1", "Subscription 2")
	p.WaitText("#state", "failing")
	if got := p.Text(".details .label"); got != hostile {
		t.Errorf("the hostile label on the subscription page reads %q", got)
	}
	p.WaitText("#live-status", "Live")
	p.Screenshot("subscription-failing")

	h.store.setReceiver(brokenURL, 200) // the shop fixed its receiver
	p.Click("#redeliver")
	p.WaitText("#flash", "due now")
	p.WaitText("#state", "pending")
	p.WaitText("#live-status", "Live")
	loads := h.documentGets("/console/subscriptions/2")
	if _, ok := browsertest.Eval[bool](p, `(window.__sameDocument = true)`); !ok {
		t.Fatal("marking the document failed")
	}

	h.store.deliverDue() // the IPN worker's next round
	p.WaitText("#state", "acknowledged")
	p.WaitText("#attempts", "200 OK")
	if same, _ := browsertest.Eval[bool](p, `window.__sameDocument === true`); !same {
		t.Error("the page was reloaded to show the acknowledgement")
	}
	if n := h.documentGets("/console/subscriptions/2"); n != loads {
		t.Errorf("the subscription page was loaded %d times after redeliver, want %d", n, loads)
	}
	if !slices.ContainsFunc(p.Requests(), func(r browsertest.Request) bool {
		return r.Type == "EventSource" && strings.HasSuffix(r.URL, "/console/events/subscriptions/2") && r.Status == 200
	}) {
		t.Error("no event stream for the subscription among the requests")
	}
	p.Screenshot("subscription-acknowledged")
	if got := h.store.redeliveries(); len(got) != 1 || got[0] != 2 {
		t.Errorf("redeliveries %v, want [2]", got)
	}
	p.RequireClean()
}

// A wrong key is refused and the page says only that.
func TestBrowserWrongKey(t *testing.T) {
	h := newHarness(t)
	p := browsertest.NewPage(t)
	p.Navigate(h.srv.URL + "/console/signin")
	p.Fill("#key", "not-the-key")
	p.Click("#signin")
	p.WaitText("#flash", "Sign-in failed. Check the API key and try again.")
	if !strings.HasSuffix(p.Location(), "/console/signin") {
		t.Errorf("after a wrong key the browser is at %s", p.Location())
	}
	p.Screenshot("wrong-key")
	// Still signed out.
	p.Navigate(h.srv.URL + "/console/endpoints")
	p.WaitVisible("#key")
	if n := len(p.CSPViolations()) + len(p.CrossOrigin()); n != 0 {
		t.Errorf("CSP violations %v, cross-origin %v", p.CSPViolations(), p.CrossOrigin())
	}
}

// A form whose CSRF token was taken out is refused and does nothing.
func TestBrowserFormWithoutToken(t *testing.T) {
	h := newHarness(t)
	p := browsertest.NewPage(t)
	signInBrowser(t, p, h)
	p.Navigate(h.srv.URL + "/console/subscriptions/2")
	p.WaitVisible("#redeliver")
	if _, ok := browsertest.Eval[bool](p, `(() => { document.querySelector('form[action$="/redeliver"] input[name=csrf]').remove(); return true; })()`); !ok {
		t.Fatal("removing the token failed")
	}
	p.Click("#redeliver")
	p.WaitText("#error-message", "not sent from the console")
	if !slices.ContainsFunc(p.Requests(), func(r browsertest.Request) bool {
		return r.Method == "POST" && strings.HasSuffix(r.URL, "/redeliver") && r.Status == http.StatusForbidden
	}) {
		t.Error("the post without a token was not answered 403")
	}
	if got := h.store.redeliveries(); len(got) != 0 {
		t.Errorf("redeliveries %v after a refused form", got)
	}
	p.Screenshot("csrf-refused")
	if n := len(p.CSPViolations()) + len(p.CrossOrigin()); n != 0 {
		t.Errorf("CSP violations %v, cross-origin %v", p.CSPViolations(), p.CrossOrigin())
	}
}

// On a phone the tables become cards and nothing scrolls sideways.
func TestBrowserPhone(t *testing.T) {
	h := newHarness(t)
	p := browsertest.NewPage(t)
	p.Viewport(390, 844, true)
	signInBrowser(t, p, h)
	for _, path := range []string{"/console/", "/console/subscriptions", "/console/subscriptions/2", "/console/endpoints"} {
		p.Navigate(h.srv.URL + path)
		p.WaitVisible("main h1")
		fits, _ := browsertest.Eval[bool](p, `document.documentElement.scrollWidth <= window.innerWidth`)
		if !fits {
			w, _ := browsertest.Eval[int](p, `document.documentElement.scrollWidth`)
			t.Errorf("%s scrolls sideways on a phone: %d px wide", path, w)
		}
		if path == "/console/subscriptions" {
			label, _ := browsertest.Eval[string](p, `getComputedStyle(document.querySelector("#sub-2 td[data-label=Endpoint]"), "::before").content`)
			if label != `"Endpoint"` {
				t.Errorf("phone cards: the cell label is %s", label)
			}
		}
		p.Screenshot("phone" + strings.ReplaceAll(strings.TrimPrefix(path, "/console"), "/", "-"))
	}
	p.RequireClean()
}

// The keyboard alone: the key field has the focus, Enter signs in; on a
// page the first Tab reaches the skip link, visibly focused, and Enter on
// it moves the focus to the content.
func TestBrowserKeyboard(t *testing.T) {
	h := newHarness(t)
	p := browsertest.NewPage(t)
	press := func(keys string) {
		t.Helper()
		if err := chromedp.Do(p.Context(), chromedp.KeyEvent(keys)); err != nil {
			t.Fatal(err)
		}
	}
	active := func() string {
		t.Helper()
		s, _ := browsertest.Eval[string](p, `(document.activeElement.id || "") + "|" + document.activeElement.textContent.trim()`)
		return s
	}
	p.Navigate(h.srv.URL + "/console/signin")
	p.WaitVisible("#key")
	if got := active(); !strings.HasPrefix(got, "key|") {
		t.Errorf("the sign-in page focuses %q, want the key field", got)
	}
	press(testKey + kb.Enter)
	p.WaitText("h1", "Overview")

	press(kb.Tab)
	if got := active(); got != "|Skip to content" {
		t.Errorf("the first Tab focuses %q, want the skip link", got)
	}
	outline, _ := browsertest.Eval[string](p, `getComputedStyle(document.activeElement).outlineStyle`)
	if outline == "none" || outline == "" {
		t.Error("the focused skip link shows no outline")
	}
	onScreen, _ := browsertest.Eval[bool](p, `document.activeElement.getBoundingClientRect().top >= 0`)
	if !onScreen {
		t.Error("the focused skip link stays off screen")
	}
	p.Screenshot("skip-link")
	press(kb.Enter)
	if got := active(); !strings.HasPrefix(got, "main|") {
		t.Errorf("the skip link moved the focus to %.30q, want main", got)
	}
	p.RequireClean()
}

// Without JavaScript everything still works: sign in, look, redeliver,
// refresh. (The harness's waits run a script in the page, which does not
// run while scripts are off; each step here waits for the navigation its
// click makes instead, and reads the page once it has loaded.)
func TestBrowserWithoutJavaScript(t *testing.T) {
	h := newHarness(t)
	p := browsertest.NewPage(t)
	err := chromedp.Do(p.Context(), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	// click clicks and waits for the page the click loads.
	click := func(selector string) int64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(p.Context(), browsertest.DefaultTimeout)
		defer cancel()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
		if err != nil {
			t.Fatalf("clicking %s: %v", selector, err)
		}
		return resp.Status
	}
	p.Navigate(h.srv.URL + "/console/")
	p.Fill("#key", testKey)
	if status := click("#signin"); status != http.StatusOK || p.Text("h1") != "Overview" {
		t.Fatalf("signing in without scripts: %d, %q", status, p.Text("h1"))
	}
	p.Navigate(h.srv.URL + "/console/subscriptions/2")
	if got := p.Text("#state"); !strings.Contains(got, "failing") {
		t.Fatalf("state %q", got)
	}
	if hidden, _ := browsertest.Eval[bool](p, `document.getElementById("live-status").hidden`); !hidden {
		t.Error("the live status shows although no script ran")
	}
	h.store.setReceiver(brokenURL, 200)
	click("#redeliver")
	if got := p.Text("#flash"); !strings.Contains(got, "due now") {
		t.Errorf("after redeliver the message reads %q", got)
	}
	h.store.deliverDue()
	click(".livebar a") // Refresh
	if got := p.Text("#state"); !strings.Contains(got, "acknowledged") {
		t.Errorf("after a refresh the state reads %q", got)
	}
	if slices.ContainsFunc(p.Requests(), func(r browsertest.Request) bool { return r.Type == "EventSource" }) {
		t.Error("an event stream was opened with scripts off")
	}
	p.RequireClean()
}
