package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/internal/browsertest"
)

// signInConsole signs the page in through the form with key.
func signInConsole(t *testing.T, p *browsertest.Page, s *opsStack, key string) {
	t.Helper()
	if status := p.Navigate(s.apiURL + "/console/"); status != http.StatusOK {
		t.Fatalf("opening the console: %d", status)
	}
	p.WaitVisible("#key")
	p.Fill("#key", key)
	p.Click("#signin")
}

// The operator console in headless Chromium against a real ipnd (MariaDB
// ledger, the package's btcd, the IPN worker of the same process): a paid
// order whose shop answers 500 shows as failing; the shop fixes its
// receiver, the operator presses redeliver and sees the delivery
// acknowledged without a reload (the event stream, woken by the worker);
// the endpoint's test button grades the fixed receiver. Nothing leaves the
// origin. The overview's weight and time to first render are logged (cache
// off). Screenshots: TestConsoleInBrowser.*.png in the test's artifact
// directory (kept under _artifacts/ by make test's -artifacts).
func TestConsoleInBrowser(t *testing.T) {
	s := newOpsStack(t)
	shop := newShopReceiver(t, true)
	addr, sub := s.order(shop, "order 1042")
	s.btc.Pay(btcdtest.Output{Address: addr, Amount: 125_000})
	s.waitDelivery(sub, "failing", failing)

	p := browsertest.NewPage(t)
	p.Viewport(1100, 800, false)
	signInConsole(t, p, s, s.apiKey)
	p.WaitText("h1", "Overview")
	p.WaitText("#chain-btc", "ready")
	p.WaitText("#failing", "1")
	p.WaitText("#live-status", "Live")

	// Weight and first render of the overview, loaded afresh with the
	// cache off (document, stylesheet, script, icon, event stream).
	err := chromedp.Do(p.Context(), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	p.Navigate(s.apiURL + "/console/")
	p.WaitText("#live-status", "Live")
	timing, weight := p.Timing(), p.Weight()
	t.Logf("console overview: %v; %v; document %d bytes", weight, timing, timing.DocumentBytes)
	if timing.FirstContentfulPaint <= 0 || weight.Requests < 4 || weight.Bytes <= timing.DocumentBytes {
		t.Errorf("overview: %v, %v: want a contentful paint and the document, stylesheet, script and event stream", timing, weight)
	}
	p.Screenshot("overview")

	p.Click("#failing a")
	p.WaitText("h1", "Subscriptions")
	p.WaitText("#sub-"+sub, "failing")
	p.WaitText("#sub-"+sub, "order 1042")
	p.Screenshot("failing")
	p.Click("#sub-" + sub + " a")
	p.WaitText("h1", "Subscription "+sub)
	p.WaitText("#state", "failing")
	p.WaitText("#attempts", "500")
	p.WaitText("#live-status", "Live")
	p.Screenshot("subscription-failing")

	shop.set("", false) // the shop fixed its receiver
	p.Click("#redeliver")
	p.WaitText("#flash", "due now")
	p.WaitText("#live-status", "Live")
	if _, ok := browsertest.Eval[bool](p, `(window.__sameDocument = true)`); !ok {
		t.Fatal("marking the document failed")
	}
	documents := func() int {
		n := 0
		for _, r := range p.Requests() {
			if r.Type == "Document" && strings.HasSuffix(r.URL, "/console/subscriptions/"+sub) {
				n++
			}
		}
		return n
	}
	loads := documents()
	p.WaitText("#state", "acknowledged")
	p.WaitText("#attempts", "200 OK")
	if same, _ := browsertest.Eval[bool](p, `window.__sameDocument === true`); !same || documents() != loads {
		t.Error("the page was reloaded to show the acknowledgement")
	}
	if !slices.ContainsFunc(p.Requests(), func(r browsertest.Request) bool {
		return r.Type == "EventSource" && strings.HasSuffix(r.URL, "/console/events/subscriptions/"+sub) && r.Status == 200
	}) {
		t.Error("no event stream for the subscription among the requests")
	}
	if d := s.delivery(sub); d["state"] != "delivered" {
		t.Errorf("the API says %v", d)
	}
	p.Screenshot("subscription-acknowledged")

	// The endpoint's test button: the receiver test kit, signed with the
	// endpoint's secret, against the fixed receiver.
	p.Click(`.details a[href*="/endpoints"]`)
	p.WaitText("h1", "Endpoints")
	p.Click(".test-receiver")
	p.WaitText("#flash", "every required step passed")
	p.WaitText("#receiver-test #step-8", "pass")
	p.Screenshot("receiver-test")
	p.RequireClean()
}

// A wrong key is refused; a form whose CSRF token was removed is refused
// and redelivers nothing.
func TestConsoleRefusals(t *testing.T) {
	s := newOpsStack(t)
	shop := newShopReceiver(t, true)
	addr, sub := s.order(shop, "order 7")
	s.btc.Pay(btcdtest.Output{Address: addr, Amount: 50_000})
	s.waitDelivery(sub, "failing", failing)

	p := browsertest.NewPage(t)
	signInConsole(t, p, s, "not-the-key-0123456789")
	p.WaitText("#flash", "Sign-in failed. Check the API key and try again.")
	p.Screenshot("wrong-key")
	p.Navigate(s.apiURL + "/console/subscriptions/" + sub)
	p.WaitVisible("#key") // still signed out

	signInConsole(t, p, s, s.apiKey)
	p.WaitText("h1", "Overview")
	p.Navigate(s.apiURL + "/console/subscriptions/" + sub)
	p.WaitVisible("#redeliver")
	shop.set("", false)
	before := attempts(s.delivery(sub))
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
	p.Screenshot("csrf-refused")
	if d := s.delivery(sub); attempts(d) != before || !failing(d) {
		t.Errorf("after the refused form the delivery is %v (attempts before %d)", d, before)
	}
	if n := len(p.CSPViolations()) + len(p.CrossOrigin()); n != 0 {
		t.Errorf("CSP violations %v, cross-origin %v", p.CSPViolations(), p.CrossOrigin())
	}
}
