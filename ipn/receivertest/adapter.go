package receivertest

// The kit renders, signs and checks its synthetic IPNs with package ipn's
// own functions (SyntheticPayload, SignedHeaders, CheckEchoOf,
// NewHTTPClient), so that a receiver passing the kit passes ipnd: the body
// has every field of a real IPN, changes included, plus "test": true.

import (
	"net/http"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// ipnMessage is one synthetic notification.
type ipnMessage struct {
	id          int64
	chain       chains.Chain
	address     string
	format      string
	totals      totals
	height      int64
	changes     []ledger.DepositChange
	createdAt   time.Time
	maxConfirms int
}

// payload renders m as ipnd renders a notification, marked as a test.
func payload(m ipnMessage) ([]byte, string, error) {
	return ipn.SyntheticPayload(ledger.NotificationData{
		ID: m.id,
		Subscription: ledger.Subscription{ID: SubscriptionID, Chain: m.chain, Address: m.address,
			MaxConfirms: m.maxConfirms, Format: m.format},
		Totals:    ledger.Totals{Confirmed: m.totals.confirmed, Unconfirmed: m.totals.unconfirmed, Height: m.height},
		Changes:   m.changes,
		CreatedAt: m.createdAt,
	})
}

// headers are one attempt's headers, signed at ts with secrets in order,
// plus the test marker.
func headers(version string, m ipnMessage, secrets []string, body []byte, ctype string, attempt int, ts time.Time) http.Header {
	h := ipn.SignedHeaders(version, m.id, ctype, body, secrets, attempt, ts)
	h.Set(HeaderTest, "1")
	return h
}

// checkEcho is ipnd's acknowledgement rule: does (status, body) acknowledge
// totals t for m's address?
func checkEcho(m ipnMessage, t totals, status int, body []byte) error {
	return ipn.CheckEchoOf(m.chain, m.address, t.confirmed, t.unconfirmed, status, body)
}
