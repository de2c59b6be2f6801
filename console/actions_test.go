package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/ipn/receivertest"
)

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

// The endpoints page's test button runs the receiver test for that URL
// (the kit itself is tested in ipn/receivertest, the button against a real
// ipnd in cmd/ipnd) and shows the report once; without a tester there is
// no button and no route.
func TestReceiverTestButton(t *testing.T) {
	var tested []string
	h := newHarness(t, func(o *console.Options) {
		o.TestReceiver = func(_ context.Context, u string) (receivertest.Report, error) {
			tested = append(tested, u)
			if u == brokenURL {
				return receivertest.Report{URL: u, Passed: 5, Required: 8, Steps: []receivertest.Result{
					{Step: 6, Title: "an IPN signed with another secret", Required: true, Status: 200, Body: `<b>ok</b>`,
						Reason: "accepted a bad signature"}}}, nil
			}
			return receivertest.Report{}, fmt.Errorf("endpoint: %w", console.ErrNotFound)
		}
	})
	c := h.signedIn()
	page := c.get("/console/endpoints")
	if n := strings.Count(page.body, `action="/console/endpoints/test"`); n != 2 {
		t.Errorf("%d test buttons, want one per endpoint", n)
	}
	tok := token(t, page.body)
	a := c.post("/console/endpoints/test", url.Values{"csrf": {tok}, "url": {brokenURL}})
	if a.status != http.StatusSeeOther || len(tested) != 1 || tested[0] != brokenURL {
		t.Fatalf("test: %d, tested %v", a.status, tested)
	}
	body := c.get(a.header.Get("Location")).body
	for _, want := range []string{"5 of 8 required steps passed", `id="step-6"`, "accepted a bad signature", "&lt;b&gt;ok&lt;/b&gt;", `class="flash error"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the report page lacks %q", want)
		}
	}
	if strings.Contains(c.get(a.header.Get("Location")).body, `id="receiver-test"`) {
		t.Error("the report is shown twice")
	}
	a = c.post("/console/endpoints/test", url.Values{"csrf": {tok}, "url": {"https://unknown.example/"}})
	if body := c.get(a.header.Get("Location")).body; !strings.Contains(body, "no subscription uses this URL") {
		t.Errorf("an unknown endpoint:\n%s", body)
	}
	if a := c.post("/console/endpoints/test", url.Values{"url": {brokenURL}}); a.status != http.StatusForbidden || len(tested) != 2 {
		t.Errorf("without the CSRF token: %d, tested %v", a.status, tested)
	}

	plain := newHarness(t).signedIn()
	if strings.Contains(plain.get("/console/endpoints").body, "/endpoints/test") {
		t.Error("a test button without a tester")
	}
	if a := plain.post("/console/endpoints/test", url.Values{"csrf": {plain.csrf()}, "url": {goodURL}}); a.status != http.StatusNotFound &&
		a.status != http.StatusMethodNotAllowed {
		t.Errorf("the test route without a tester: %d", a.status)
	}
}
