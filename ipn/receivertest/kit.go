// Package receivertest is the receiver test kit: it sends a signed synthetic
// sequence of IPNs to a shop's endpoint and grades each answer, so that a
// developer learns before going live whether the endpoint verifies
// signatures, acknowledges with the right echo, survives a reversal and
// ignores IPNs that arrive out of order.
//
// The IPNs have the body fields (changes included), headers and signature of
// real ones (package ipn renders and signs them: ipn.SyntheticPayload,
// ipn.SignedHeaders) plus the marker "test": true in the body and the header
// IPN-Test: 1. They carry subscription_id 0, IPN-Ids taken
// from the clock (milliseconds × 1000, so a later run has higher ids than an
// earlier one) and a synthetic address that no shop has (SyntheticAddress).
// A receiver that compares IPN-Ids per subscription (or per address) thus
// never mixes them with its real IPNs.
// Nothing here reads or writes the ledger.
//
// The sequence, for a payment of 0.01234567 coins (A) in one transaction:
//
//  1. unconfirmed (confirmed 0, unconfirmed A), changes seen;
//  2. step 1 again, byte for byte, same IPN-Id, IPN-Attempt 2;
//  3. confirmed (A, 0), changes confirmed;
//  4. a reorg takes the confirmation back (0, A), changes reorg;
//  5. confirmed again (A, 0), the newest IPN-Id of the run so far;
//  6. (A, 0) under a new IPN-Id, signed with another secret;
//  7. (A, 0) under a new IPN-Id, signed StaleBy (10 minutes) ago;
//  8. (0, A) under an IPN-Id between steps 4 and 5, correctly signed now;
//  9. (A, 0) under a new IPN-Id with two signatures, the endpoint's first;
//  10. the same with the endpoint's signature second.
//
// Grading (an answer that is no answer, a redirect or larger than
// MaxResponseBytes fails every step):
//
//   - 1-5, 9, 10 pass on ipnd's own acknowledgement rule (ipn.CheckEcho):
//     2xx with a JSON object whose address, confirmed and unconfirmed equal
//     what was sent. A receiver that echoes the totals it holds fails step 2
//     if it booked the repeat twice (the echo doubles).
//   - 6, 7 pass on any 4xx; a 2xx, 3xx or 5xx fails.
//   - 8 passes on 2xx echoing the newer totals the receiver holds (step 5's),
//     or on 409 Conflict; echoing the older IPN's totals fails (the receiver
//     moved back, or mirrors bodies without comparing IPN-Ids), and so does
//     any other status.
//
// Every step is required (Report.Pass): since endpoint secrets rotate (the
// header then carries t=…,v1=NEW,v1=OLD for [ipn] secret_grace), a receiver
// that reads only one v1 loses IPNs during every rotation (steps 9, 10).
//
// Run is the entry point for `ipnd test-receiver` and POST /endpoints/test;
// Report.JSON and Report.WriteText render its result.
package receivertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/internal/weburl"
	"github.com/ipnd/ipnd/ipn"
)

// HeaderTest marks a synthetic IPN; its value is "1".
const HeaderTest = ipn.HeaderTest

// SubscriptionID is the subscription_id of every synthetic IPN (real
// subscriptions start at 1).
const SubscriptionID = 0

// StaleBy is how old step 7's signature timestamp is: twice the 5-minute
// window receivers allow.
const StaleBy = 2 * ipn.DefaultSignatureWindow

// ErrInvalidOptions is wrapped by Run when the options cannot make a test.
var ErrInvalidOptions = errors.New("receiver test: invalid options")

// Options configures Run.
type Options struct {
	URL    string // the receiver's endpoint, http or https
	Secret string // the endpoint's signing secret
	Format string // "json" (default) or "form", as the subscription's format

	// Chain of the synthetic payment (default btc) and its Network, which
	// picks the synthetic address (see SyntheticAddress); Address, when set,
	// is used instead.
	Chain   chains.Chain
	Network string
	Address string

	// HTTPClient sends the requests; nil builds one without proxy that
	// refuses loopback, private and reserved addresses unless AllowPrivate
	// ([ipn] allow_private_targets). Redirects are never followed, whichever
	// client is used.
	HTTPClient   *http.Client
	AllowPrivate bool

	Clock            func() time.Time // signing time, created_at, IPN-Ids; nil = time.Now
	Version          string           // User-Agent: ipnd/VERSION
	StepTimeout      time.Duration    // one request, answer included; 0 = ipn.DefaultTimeout
	MaxResponseBytes int64            // answer bytes read; 0 = ipn.MaxResponseBytes
}

// run is a validated Options.
type run struct {
	Options
	client *http.Client
	amount uint64 // the synthetic payment in atomic units
}

// Run sends the synthetic sequence to o.URL and grades each answer. A
// receiver's failures are in the Report (Report.Pass is false), never an
// error; the error is for options that cannot make a test (wrapping
// ErrInvalidOptions or ipn.ErrForbiddenTarget) and for ctx ending, in which
// case the Report holds the steps done so far. Steps run one after the
// other, each bounded by StepTimeout: at most 10 × StepTimeout in all.
func Run(ctx context.Context, o Options) (Report, error) {
	r, err := prepare(ctx, o)
	if err != nil {
		return Report{}, err
	}
	now := r.Clock()
	rep := Report{URL: redactURL(r.URL), Chain: r.Chain, Format: r.Format, Address: r.Address, StartedAt: now.UTC()}
	other, err := ipn.NewSecret()
	if err != nil {
		return Report{}, fmt.Errorf("receiver test: %w", err)
	}
	seq := sequence(r.Chain, r.Address, r.Format, r.amount, idBase(now), now)
	for _, s := range seq.steps {
		if err := ctx.Err(); err != nil {
			rep.finish()
			return rep, fmt.Errorf("receiver test stopped after %d steps: %w", len(rep.Steps), err)
		}
		rep.Steps = append(rep.Steps, r.do(ctx, s, seq.newest, other))
	}
	rep.finish()
	return rep, nil
}

func prepare(ctx context.Context, o Options) (run, error) {
	r := run{Options: o}
	if r.URL == "" {
		return r, fmt.Errorf("%w: the receiver URL is empty (-url)", ErrInvalidOptions)
	}
	if weburl.HasCredentials(r.URL) {
		return r, fmt.Errorf("%w: the receiver URL carries a user name or password (user:password@host): ipnd never sends "+
			"credentials in a URL; authenticate IPNs by their signature, or put a token in the path", ErrInvalidOptions)
	}
	if r.Secret == "" {
		return r, fmt.Errorf("%w: the endpoint's signing secret is empty (-secret or -subscription)", ErrInvalidOptions)
	}
	switch f := strings.ToLower(strings.TrimSpace(r.Format)); f {
	case "", "json":
		r.Format = "json"
	case "form":
		r.Format = f
	default:
		return r, fmt.Errorf("%w: format %q: want json or form", ErrInvalidOptions, r.Format)
	}
	if r.Chain == "" {
		r.Chain = chains.BTC
	}
	if !r.Chain.Valid() {
		return r, fmt.Errorf("%w: unknown chain %q", ErrInvalidOptions, r.Chain)
	}
	if r.Address == "" {
		a, err := SyntheticAddress(r.Chain, r.Network)
		if err != nil {
			return r, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
		}
		r.Address = a
	}
	amount, err := r.Chain.ParseAmount(paymentAmount)
	if err != nil {
		return r, fmt.Errorf("receiver test: amount for %s: %w", r.Chain, err)
	}
	r.amount = amount
	if err := ipn.CheckURL(ctx, r.URL, r.AllowPrivate); err != nil {
		return r, fmt.Errorf("receiver test: -url: %w", err)
	}
	if r.Clock == nil {
		r.Clock = time.Now
	}
	if r.StepTimeout <= 0 {
		r.StepTimeout = ipn.DefaultTimeout
	}
	if r.MaxResponseBytes <= 0 {
		r.MaxResponseBytes = ipn.MaxResponseBytes
	}
	if r.HTTPClient == nil {
		r.client = ipn.NewHTTPClient(r.StepTimeout, r.AllowPrivate)
	} else {
		c := *r.HTTPClient
		c.CheckRedirect = noRedirects
		c.Jar = nil
		r.client = &c
	}
	return r, nil
}

// do sends one step and grades the answer.
func (r run) do(ctx context.Context, s step, newest totals, otherSecret string) Result {
	res := Result{Step: s.n, Name: s.name, Title: s.title, Required: s.required, IPNID: s.msg.id, Expect: s.expect()}
	now := r.Clock()
	body, ctype, err := payload(s.msg)
	if err != nil {
		res.Reason = "cannot build the IPN: " + err.Error()
		return res
	}
	var h http.Header
	switch s.signing {
	case signYours:
		h = headers(r.Version, s.msg, []string{r.Secret}, body, ctype, s.attempt, now)
	case signOther:
		h = headers(r.Version, s.msg, []string{otherSecret}, body, ctype, s.attempt, now)
	case signStale:
		h = headers(r.Version, s.msg, []string{r.Secret}, body, ctype, s.attempt, now.Add(-StaleBy))
	case signYoursFirst:
		h = headers(r.Version, s.msg, []string{r.Secret, otherSecret}, body, ctype, s.attempt, now)
	case signYoursLast:
		h = headers(r.Version, s.msg, []string{otherSecret, r.Secret}, body, ctype, s.attempt, now)
	}
	a := post(ctx, r.client, r.URL, h, body, r.StepTimeout, r.MaxResponseBytes)
	res.Status, res.Body, res.DurationMS = a.status, excerpt(a.body), a.duration.Milliseconds()
	res.Pass, res.Reason = s.grade(a, newest)
	return res
}

// redactURL drops credentials, query and fragment, which may hold tokens.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
