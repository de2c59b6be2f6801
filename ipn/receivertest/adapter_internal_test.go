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
// ipn.Payload's with the same values (changes included), plus test; its
// headers verify with ipn.Verify and carry the marker.
func TestPayloadIsIPNsPlusMarkers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := ipnMessage{id: 77, chain: chains.XMR, address: SyntheticXMRMainnet, totals: totals{5, 7}, height: 9,
		changes:   []ledger.DepositChange{{TxID: paymentTxID, Amount: 5, From: "none", To: "confirmed", Reason: "seen"}},
		createdAt: now, maxConfirms: 3}
	for _, format := range []string{"json", "form"} {
		m.format = format
		plain, _, err := ipn.Payload(ledger.NotificationData{ID: m.id, Subscription: ledger.Subscription{ID: SubscriptionID,
			Chain: m.chain, Address: m.address, MaxConfirms: 3, Format: format},
			Totals: ledger.Totals{Confirmed: 5, Unconfirmed: 7, Height: 9}, Changes: m.changes, CreatedAt: now})
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
		// The changes as ipnd renders them; JSON: the literal true, form: "true".
		if c := `[{"txid":"` + paymentTxID + `","amount":"0.000000000005","amount_atomic":"5","from":"none","to":"confirmed","reason":"seen"}]`; want["changes"] != c {
			t.Errorf("%s changes %s, want %s", format, want["changes"], c)
		}
		want["test"] = "true"
		if !maps.Equal(got, want) {
			t.Fatalf("%s body fields\n got %v\nwant %v", format, slices.Sorted(maps.Keys(got)), want)
		}
		h := headers("1.0", m, []string{"ipnsec_x"}, body, ctype, 2, now)
		if h.Get(HeaderTest) != "1" || h.Get(ipn.HeaderID) != "77" || h.Get(ipn.HeaderAttempt) != "2" || h.Get("Content-Type") != ctype {
			t.Fatalf("headers %v", h)
		}
		if err := ipn.Verify("ipnsec_x", h.Get(ipn.HeaderSignature), body, now, 0); err != nil {
			t.Fatalf("signature: %v", err)
		}
		both := headers("1.0", m, []string{"ipnsec_other", "ipnsec_x"}, body, ctype, 2, now).Get(ipn.HeaderSignature)
		if err := ipn.Verify("ipnsec_x", both, body, now, 0); err != nil {
			t.Fatalf("rotation signature %q: %v", both, err)
		}
		if err := ipn.Verify("ipnsec_other", both, body, now, 0); err != nil {
			t.Fatalf("rotation signature %q: %v", both, err)
		}
	}
}
