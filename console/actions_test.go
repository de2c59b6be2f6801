package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
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
