package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// TestSubscriptionOneShape: one subscription is shown with the same fields
// and values by every endpoint that shows it (POST /subscribe, POST
// /addresses and POST /invoices with a url, GET /subscriptions, GET
// /subscriptions/{id}); each used to pick its own subset (the subscribe
// answers had no active and created_at, the /addresses and /invoices ones
// no chain, address or label), and the OpenAPI schemas say the same.
func TestSubscriptionOneShape(t *testing.T) {
	h := newHarness(t, harnessOpts{allowPrivate: true})
	core := []string{"id", "chain", "address", "label", "url", "max_confirms", "format", "active", "created_at"}
	pick := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for _, k := range core {
			v, ok := m[k]
			if !ok {
				t.Fatalf("no %q in %v", k, m)
			}
			out[k] = v
		}
		return out
	}
	addr := h.allocBTC()
	answers := map[string]map[string]any{
		"POST /subscribe": wantOK(t, h.postJSON("/subscribe", map[string]any{"address": addr, "url": "http://127.0.0.1:9/a"})),
		"POST /addresses": wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "btc", "label": "tea",
			"url": "http://127.0.0.1:9/b"}))["subscription"].(map[string]any),
	}
	h.s.o.Invoices = testInvoicesConfig()
	answers["POST /invoices"] = h.createInvoice(map[string]any{"chain": "btc", "amount": "0.001",
		"url": "http://127.0.0.1:9/c"})["subscription"].(map[string]any)
	list := wantOK(t, h.get("/subscriptions?limit=10"))["subscriptions"].([]any)
	listed := map[string]map[string]any{}
	for _, it := range list {
		m := it.(map[string]any)
		listed[fmt.Sprint(m["id"])] = m
	}
	for from, a := range answers {
		id := fmt.Sprint(a["id"])
		want := pick(a)
		if got := pick(listed[id]); !reflect.DeepEqual(got, want) {
			t.Errorf("subscription %s: GET /subscriptions %v, %s %v", id, got, from, want)
		}
		if got := pick(wantOK(t, h.get("/subscriptions/"+id))); !reflect.DeepEqual(got, want) {
			t.Errorf("subscription %s: GET /subscriptions/{id} %v, %s %v", id, got, from, want)
		}
		if a["secret"] == nil || a["created"] != true || a["active"] != true {
			t.Errorf("%s: %v", from, a)
		}
	}
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(openAPISpec, &spec); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"SubscriptionFields", "Subscribed", "Subscription", "SubscriptionItem"} {
		for _, k := range core {
			if _, ok := spec.Components.Schemas[name].Properties[k]; !ok {
				t.Errorf("OpenAPI schema %s has no %s", name, k)
			}
		}
	}
}
