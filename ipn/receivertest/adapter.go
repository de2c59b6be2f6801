package receivertest

// This file is the only place that knows how package ipn wants its input:
// the kit renders, signs and checks synthetic IPNs with ipn's own exported
// functions so that a receiver passing the kit passes ipnd. Those functions
// take the ledger's row types, so the kit fills a ledger.Notification here and
// nowhere else. What ipn should export so that this adapter shrinks to
// nothing:
//
//   - Payload input with the body's new fields (issue 13's Changes, and a
//     Test flag), instead of the splice in payload below;
//   - CheckEcho on (chain, address, confirmed, unconfirmed) rather than a
//     ledger row, for callers that have no row;
//   - Headers on (version, id, content type, body, secrets, attempt, time)
//     with a SignAll(secrets, ts, body) that writes one v1 per secret (the
//     rotation grace period of issue 13), instead of joinSignatures below;
//   - HeaderTest ("IPN-Test") beside the other header names;
//   - the SSRF-checking dialer (dialControl) or a NewHTTPClient, which the kit
//     rebuilds from the exported AddrAllowed in client.go.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// ipnMessage is one synthetic notification as ipn sees it.
type ipnMessage struct {
	id          int64
	chain       chains.Chain
	address     string
	format      string
	totals      totals
	height      int64
	changes     []Change
	createdAt   time.Time
	maxConfirms int
}

// payload renders m with ipn.Payload and adds the fields ipn does not
// render yet: "changes" (issue 13) and "test": true. In a form body changes
// is one field holding the JSON array, and test is "true".
func payload(m ipnMessage) ([]byte, string, error) {
	body, ctype, err := ipn.Payload(ledger.NotificationData{
		ID: m.id,
		Subscription: ledger.Subscription{ID: SubscriptionID, Chain: m.chain, Address: m.address,
			MaxConfirms: m.maxConfirms, Format: m.format},
		Totals:    ledger.Totals{Confirmed: m.totals.confirmed, Unconfirmed: m.totals.unconfirmed, Height: m.height},
		CreatedAt: m.createdAt,
	})
	if err != nil {
		return nil, "", err
	}
	changes := m.changes
	if changes == nil {
		changes = []Change{}
	}
	cj, err := json.Marshal(changes)
	if err != nil {
		return nil, "", fmt.Errorf("receiver test: changes: %w", err)
	}
	switch ctype {
	case ipn.ContentTypeForm:
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "", fmt.Errorf("receiver test: form body: %w", err)
		}
		v.Set("changes", string(cj))
		v.Set("test", "true")
		return []byte(v.Encode()), ctype, nil
	default:
		s := strings.TrimSuffix(string(body), "}")
		if len(s) == len(body) {
			return nil, "", fmt.Errorf("receiver test: ipn.Payload returned no JSON object")
		}
		return []byte(s + `,"changes":` + string(cj) + `,"test":true}`), ctype, nil
	}
}

// notification is the ledger row ipn.Headers and ipn.CheckEcho read.
func notification(m ipnMessage, secret string, body []byte, ctype string) ledger.Notification {
	return ledger.Notification{ID: m.id, SubscriptionID: SubscriptionID, Chain: m.chain, Address: m.address,
		Secret: secret, Confirmed: m.totals.confirmed, Unconfirmed: m.totals.unconfirmed, Height: m.height,
		Body: body, ContentType: ctype}
}

// headers are ipn.Headers for one attempt signed with secret at ts, plus
// the test marker.
func headers(version string, m ipnMessage, secret string, body []byte, ctype string, attempt int, ts time.Time) http.Header {
	h := ipn.Headers(version, notification(m, secret, body, ctype), attempt, ts)
	h.Set(HeaderTest, "1")
	return h
}

// checkEcho is ipn.CheckEcho: does (status, body) acknowledge totals t for
// m's address?
func checkEcho(m ipnMessage, t totals, status int, body []byte) error {
	n := notification(m, "", nil, "")
	n.Confirmed, n.Unconfirmed = t.confirmed, t.unconfirmed
	return ipn.CheckEcho(n, status, body)
}

// joinSignatures makes one IPN-Signature header of two made by ipn.Sign at
// the same time: "t=T,v1=FIRST,v1=SECOND", as ipnd sends during a secret
// rotation.
func joinSignatures(first, second string) string {
	_, v1, _ := strings.Cut(second, ",")
	return first + "," + v1
}
