package receivertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// The synthetic payment: one transaction of paymentAmount coins, seen in the
// mempool, confirmed, taken back to the mempool by a reorg and confirmed again.
const (
	paymentAmount = "0.01234567"
	paymentTxID   = "7e577e577e577e577e577e577e577e577e577e577e577e577e577e577e577e57"
	paymentHeight = 100000
	maxConfirms   = 3
)

// Change is one entry of an IPN body's "changes", as ipn.Payload renders it
// (for receivers written in Go that read the synthetic IPNs): a deposit
// whose standing moved, and why. From and To are "none", "unconfirmed" or
// "confirmed"; Reason is one of ledger's reasons (seen, confirmed, reorg,
// double_spend, dropped_from_mempool, replaced). In a form body the array
// is one field holding its JSON.
type Change struct {
	TxID         string `json:"txid"`
	Amount       string `json:"amount"`
	AmountAtomic string `json:"amount_atomic"`
	From         string `json:"from"`
	To           string `json:"to"`
	Reason       string `json:"reason"`
}

type totals struct{ confirmed, unconfirmed uint64 }

// kind is what a step needs from the receiver.
type kind int

const (
	mustAcknowledge kind = iota // 2xx echoing the totals sent
	mustRefuse                  // 4xx
	mustKeepNewer               // 2xx echoing the newer totals it holds, or 409
)

// signing is how a step's IPN-Signature is made.
type signing int

const (
	signYours      signing = iota // the endpoint's secret, now
	signOther                     // another secret
	signStale                     // the endpoint's secret, StaleBy ago
	signYoursFirst                // t=…,v1=YOURS,v1=OTHER
	signYoursLast                 // t=…,v1=OTHER,v1=YOURS
)

type step struct {
	n        int
	name     string
	title    string
	required bool
	kind     kind
	signing  signing
	attempt  int
	msg      ipnMessage
	stale    totals // mustKeepNewer: the out-of-date totals sent
}

type plan struct {
	steps  []step
	newest totals // what a correct receiver holds after step 5
}

// sequence is the steps of one run, all created at createdAt (so that step
// 2 repeats step 1's bytes, as a retry does). IPN-Ids are base+10 …
// base+80; step 8's id (base+35) lies between steps 4 and 5. Steps 6 and 7 carry the current totals under new ids, so a receiver that
// wrongly books them is failed there and not again at step 8: each step
// grades one thing.
func sequence(c chains.Chain, address, format string, amount uint64, base int64, createdAt time.Time) plan {
	change := func(from, to, reason string) []ledger.DepositChange {
		return []ledger.DepositChange{{TxID: paymentTxID, Amount: amount, From: from, To: to, Reason: reason}}
	}
	msg := func(off int64, t totals, height int64, ch []ledger.DepositChange) ipnMessage {
		return ipnMessage{id: base + off, chain: c, address: address, format: format, totals: t,
			height: height, changes: ch, createdAt: createdAt, maxConfirms: maxConfirms}
	}
	unconfirmed, confirmed := totals{unconfirmed: amount}, totals{confirmed: amount}
	seen := msg(10, unconfirmed, paymentHeight, change(ledger.CountsNone, ledger.CountsUnconfirmed, ledger.ReasonSeen))
	current := msg(40, confirmed, paymentHeight+3, change(ledger.CountsUnconfirmed, ledger.CountsConfirmed, ledger.ReasonConfirmed))
	stale := msg(35, unconfirmed, paymentHeight+2, change(ledger.CountsConfirmed, ledger.CountsUnconfirmed, ledger.ReasonReorg))
	withID := func(m ipnMessage, off int64) ipnMessage { m.id, m.changes = base+off, nil; return m }
	steps := []step{
		{n: 1, name: "unconfirmed", title: "an unconfirmed payment", kind: mustAcknowledge, msg: seen},
		{n: 2, name: "repeated", title: "the same IPN again (same IPN-Id)", kind: mustAcknowledge, attempt: 2, msg: seen},
		{n: 3, name: "confirmed", title: "the payment confirmed", kind: mustAcknowledge,
			msg: msg(20, confirmed, paymentHeight+2, change(ledger.CountsUnconfirmed, ledger.CountsConfirmed, ledger.ReasonConfirmed))},
		{n: 4, name: "reversal", title: "a reorg takes the confirmation back", kind: mustAcknowledge,
			msg: msg(30, unconfirmed, paymentHeight+2, change(ledger.CountsConfirmed, ledger.CountsUnconfirmed, ledger.ReasonReorg))},
		{n: 5, name: "reconfirmed", title: "the payment confirmed again", kind: mustAcknowledge, msg: current},
		{n: 6, name: "bad_signature", title: "an IPN signed with another secret", kind: mustRefuse, signing: signOther,
			msg: withID(current, 50)},
		{n: 7, name: "stale_timestamp", title: "an IPN signed " + StaleBy.String() + " ago", kind: mustRefuse,
			signing: signStale, msg: withID(current, 60)},
		{n: 8, name: "older_ipn_id", title: "an older IPN-Id after a newer one", kind: mustKeepNewer, msg: stale,
			stale: unconfirmed},
		{n: 9, name: "rotation_yours_first", title: "two signatures, yours first (secret rotation)", kind: mustAcknowledge,
			signing: signYoursFirst, msg: withID(current, 70)},
		{n: 10, name: "rotation_yours_last", title: "two signatures, yours last (secret rotation)", kind: mustAcknowledge,
			signing: signYoursLast, msg: withID(current, 80)},
	}
	for i := range steps {
		steps[i].required = true
		if steps[i].attempt == 0 {
			steps[i].attempt = 1
		}
	}
	return plan{steps: steps, newest: confirmed}
}

// expect says in words what passes the step.
func (s step) expect() string {
	switch s.kind {
	case mustRefuse:
		return "refused with a 4xx status"
	case mustKeepNewer:
		return "2xx echoing the newer totals it holds, or 409 Conflict"
	}
	return "2xx echoing address, confirmed and unconfirmed as sent"
}

// grade decides whether answer a passes s; newest is what a correct
// receiver holds after step 5. The reason says what was seen.
func (s step) grade(a answer, newest totals) (bool, string) {
	if a.err != "" {
		return false, "no answer: " + a.err
	}
	if a.tooLarge {
		return false, "answer larger than the size limit"
	}
	if a.status >= 300 && a.status <= 399 {
		return false, fmt.Sprintf("redirect (HTTP %d) not followed: answer at the URL itself", a.status)
	}
	switch s.kind {
	case mustRefuse:
		return s.gradeRefusal(a.status)
	case mustKeepNewer:
		return s.gradeOlder(a, newest)
	}
	if err := checkEcho(s.msg, s.msg.totals, a.status, a.body); err != nil {
		return false, err.Error() + s.hint(a.body)
	}
	return true, fmt.Sprintf("acknowledged (HTTP %d)", a.status)
}

func (s step) gradeRefusal(status int) (bool, string) {
	if status >= 400 && status <= 499 {
		return true, fmt.Sprintf("refused (HTTP %d)", status)
	}
	if status >= 200 && status <= 299 {
		if s.signing == signStale {
			return false, fmt.Sprintf("accepted (HTTP %d) a signature timestamped %s ago: refuse timestamps more than 5 minutes from your clock with 401", status, StaleBy)
		}
		return false, fmt.Sprintf("accepted (HTTP %d) an IPN signed with another secret: verify IPN-Signature with the endpoint's secret and answer 401", status)
	}
	return false, fmt.Sprintf("HTTP %d: refuse with a 4xx status such as 401 (ipnd retries anything else)", status)
}

func (s step) gradeOlder(a answer, newest totals) (bool, string) {
	if a.status == 409 {
		return true, "refused as out of date (HTTP 409)"
	}
	if a.status < 200 || a.status > 299 {
		return false, fmt.Sprintf("HTTP %d: answer 2xx echoing the totals you hold, or 409 Conflict", a.status)
	}
	if checkEcho(s.msg, newest, a.status, a.body) == nil {
		return true, fmt.Sprintf("kept the newer totals (HTTP %d echoing them)", a.status)
	}
	if checkEcho(s.msg, s.stale, a.status, a.body) == nil {
		return false, "echoed the older IPN's totals: it moved the totals back (or echoes the body without comparing IPN-Ids); ignore an IPN-Id lower than the highest seen for the subscription"
	}
	err := checkEcho(s.msg, newest, a.status, a.body)
	return false, "echo is neither the newer nor the older totals: " + strings.TrimPrefix(err.Error(), "not acknowledged: ")
}

// hint explains a wrong echo that looks like a known mistake.
func (s step) hint(body []byte) string {
	t := s.msg.totals
	double := totals{2 * t.confirmed, 2 * t.unconfirmed}
	if checkEcho(s.msg, double, 200, body) == nil {
		return " (twice what was sent: was an IPN booked twice? IPN-Id is the idempotency key)"
	}
	if checkEcho(s.msg, totals{t.unconfirmed, t.confirmed}, 200, body) == nil && t.confirmed != t.unconfirmed {
		return " (confirmed and unconfirmed swapped)"
	}
	c, u, ok := echoedAmounts(body)
	if ok && (t.confirmed != 0 && c == strconv.FormatUint(t.confirmed, 10) ||
		t.unconfirmed != 0 && u == strconv.FormatUint(t.unconfirmed, 10)) {
		return " (atomic units: echo the decimal confirmed/unconfirmed fields, not the *_atomic ones)"
	}
	return ""
}

// echoedAmounts reads an echo's confirmed and unconfirmed as text, for hints.
func echoedAmounts(body []byte) (confirmed, unconfirmed string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if dec.Decode(&obj) != nil {
		return "", "", false
	}
	text := func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case json.Number:
			return x.String()
		}
		return ""
	}
	return text(obj["confirmed"]), text(obj["unconfirmed"]), true
}

// lastBase is the IPN-Id base of the latest run in this process.
var lastBase atomic.Int64

// idBase is the clock in milliseconds × 1000, and above the previous run's
// in this process even when both start in the same millisecond, so that a
// receiver that keeps the highest IPN-Id of subscription 0 sees every run's
// IPNs as newer than the last run's. Ids stay below 2^53 (exact in
// JavaScript) until the year 2255.
func idBase(now time.Time) int64 {
	for {
		prev := lastBase.Load()
		b := max(now.UnixMilli()*1000, prev+1000)
		if lastBase.CompareAndSwap(prev, b) {
			return b
		}
	}
}
