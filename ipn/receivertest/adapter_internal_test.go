package receivertest

import (
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// TestPayloadIsIPNsPlusMarkers: a synthetic body has every field of
// ipn.Payload's with the same values, plus changes and test; its headers
// verify with ipn.Verify and carry the marker.
func TestPayloadIsIPNsPlusMarkers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := ipnMessage{id: 77, chain: chains.XMR, address: SyntheticXMRMainnet, totals: totals{5, 7}, height: 9,
		changes:   []Change{{TxID: paymentTxID, AmountAtomic: "5", From: "none", To: "confirmed", Reason: "first_seen"}},
		createdAt: now, maxConfirms: 3}
	for _, format := range []string{"json", "form"} {
		m.format = format
		plain, _, err := ipn.Payload(ledger.NotificationData{ID: m.id, Subscription: ledger.Subscription{ID: SubscriptionID,
			Chain: m.chain, Address: m.address, MaxConfirms: 3, Format: format},
			Totals: ledger.Totals{Confirmed: 5, Unconfirmed: 7, Height: 9}, CreatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		body, ctype, err := payload(m)
		if err != nil {
			t.Fatal(err)
		}
		fields := func(b []byte) map[string]string {
			out := map[string]string{}
			if format == "form" {
				v, err := url.ParseQuery(string(b))
				if err != nil {
					t.Fatal(err)
				}
				for k := range v {
					out[k] = v.Get(k)
				}
				return out
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(b, &obj); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			for k, v := range obj {
				out[k] = string(v)
			}
			return out
		}
		want, got := fields(plain), fields(body)
		// JSON: the array and the literal true; form: the array's JSON and "true".
		want["changes"], want["test"] = `[{"txid":"`+paymentTxID+`","amount_atomic":"5","from":"none","to":"confirmed","reason":"first_seen"}]`, "true"
		if !maps.Equal(got, want) {
			t.Fatalf("%s body fields\n got %v\nwant %v", format, slices.Sorted(maps.Keys(got)), want)
		}
		h := headers("1.0", m, "ipnsec_x", body, ctype, 2, now)
		if h.Get(HeaderTest) != "1" || h.Get(ipn.HeaderID) != "77" || h.Get(ipn.HeaderAttempt) != "2" || h.Get("Content-Type") != ctype {
			t.Fatalf("headers %v", h)
		}
		if err := ipn.Verify("ipnsec_x", h.Get(ipn.HeaderSignature), body, now, 0); err != nil {
			t.Fatalf("signature: %v", err)
		}
		both := joinSignatures(ipn.Sign("ipnsec_other", now, body), h.Get(ipn.HeaderSignature))
		if err := ipn.Verify("ipnsec_x", both, body, now, 0); err != nil {
			t.Fatalf("rotation signature %q: %v", both, err)
		}
		if err := ipn.Verify("ipnsec_other", both, body, now, 0); err != nil {
			t.Fatalf("rotation signature %q: %v", both, err)
		}
	}
}
