package ledger

import (
	"errors"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// Lists: the queries behind GET /addresses, /subscriptions and
// /notifications, the CLI's subscriptions and deliveries and the operator
// console's pages. *db.Ledger answers each with one indexed, keyset-paginated
// query; every consumer uses that one.
//
// A query carries the opaque cursor After ("" for the first page) and a
// Limit (1..MaxListLimit); the answer's Next is the cursor of the following
// page ("" on the last). A cursor is the last row's sort key, which the store
// resumes an indexed scan from; callers only pass it back. A cursor the store
// did not make is an error wrapping ErrInvalidCursor.

// ErrInvalidCursor is wrapped when a list query's After is not a cursor the
// store made.
var ErrInvalidCursor = errors.New("invalid cursor")

// MaxListLimit is the largest page a list query may ask for.
const MaxListLimit = 500

// Cursor is the position in a list: After is the Next of the previous page
// ("" for the first), Limit the number of items wanted.
type Cursor struct {
	After string
	Limit int
}

// Page is one page of a list; Next is the cursor of the following page, ""
// on the last.
type Page[T any] struct {
	Items []T
	Next  string
}

// AddressQuery filters the watched addresses (newest first). Address
// matches exactly, Label by prefix, Search either way; empty fields match
// everything.
type AddressQuery struct {
	Chain   chains.Chain
	Address string
	Label   string
	Search  string
	Cursor
}

// SubscriptionState filters subscriptions.
type SubscriptionState string

// Subscription states of a SubscriptionQuery.
const (
	AnySubscription      SubscriptionState = ""
	ActiveSubscriptions  SubscriptionState = "active"
	FailingSubscriptions SubscriptionState = "failing" // active, newest notification failing (NotificationView.Failing)
	EndedSubscriptions   SubscriptionState = "ended"
)

// ParseSubscriptionState reads a state name ("" is any).
func ParseSubscriptionState(s string) (SubscriptionState, bool) {
	switch st := SubscriptionState(s); st {
	case AnySubscription, ActiveSubscriptions, FailingSubscriptions, EndedSubscriptions:
		return st, true
	}
	return "", false
}

// SubscriptionQuery filters subscriptions (newest first); empty fields match
// everything. Address and URL match exactly, Label (the address's) and
// URLPrefix by prefix.
type SubscriptionQuery struct {
	Chain     chains.Chain
	Address   string
	Label     string
	URL       string
	URLPrefix string
	State     SubscriptionState
	Cursor
}

// EndpointQuery filters receiver URLs (by URL): those starting with Prefix,
// only the ones with a failing subscription when Failing.
type EndpointQuery struct {
	Prefix  string
	Failing bool
	Cursor
}

// NotificationQuery filters notifications: failing ones first (newest first
// among them), then the others newest first. State is one of the Note*
// states ("" any); Failing keeps only failing ones (NotificationView.Failing).
// Address matches the subscription's address exactly, Label its label by
// prefix.
type NotificationQuery struct {
	Chain          chains.Chain
	SubscriptionID int64
	Address        string
	Label          string
	State          string
	Failing        bool
	Cursor
}

// SubscriptionView is one subscription as the lists show it, with its
// address's label and the state of its newest notification (Newest.ID is 0
// when none was made yet). It carries no secret.
type SubscriptionView struct {
	ID          int64
	Chain       chains.Chain
	Address     string
	Label       string // the address's label
	URL         string
	MaxConfirms int
	Format      string
	Active      bool
	CreatedAt   time.Time
	Newest      NotificationView
}

// NotificationView is one IPN and where its delivery stands (no body, no
// secret).
type NotificationView struct {
	ID             int64
	SubscriptionID int64
	Chain          chains.Chain
	Address        string
	Label          string
	URL            string
	Confirmed      uint64 // atomic units
	Unconfirmed    uint64
	Height         int64
	State          string // NotePending, NoteDelivered, NoteSuperseded, NoteFailed
	Attempts       int
	LastAttemptAt  time.Time // zero when none
	LastStatus     int       // HTTP status of the last attempt, 0 when none
	LastError      string    // "" when none
	NextAttemptAt  time.Time
	CreatedAt      time.Time
	DeliveredAt    time.Time
}

// Failing is the definition every failing filter uses: given up, or pending
// after at least one failed attempt.
func (n NotificationView) Failing() bool {
	return n.State == NoteFailed || (n.State == NotePending && n.Attempts > 0)
}

// EndpointView is one receiver URL: its subscriptions share a signing
// secret (not shown).
type EndpointView struct {
	URL           string
	Subscriptions int64   // active
	Failing       int64   // active and failing
	LastAttempt   Attempt // zero At when none
	// SecretSince is when the current secret was issued;
	// PreviousValidUntil the end of the previous one's grace period (zero
	// when there is none, or it has passed).
	SecretSince        time.Time
	PreviousValidUntil time.Time
}

// ChainStatus is one enabled chain as the sync role last reported it.
type ChainStatus struct {
	Chain chains.Chain
	// Height is the ledger's tip; NodeHeight the node's best height when
	// the sync role last looked (0 when unknown).
	Height, NodeHeight int64
	// Push: the node pushes blocks and transactions (ZMQ, websocket);
	// otherwise the watcher polls.
	Push bool
	// LastBlockHash and LastBlockAt are the ledger's tip block and when
	// the sync role recorded it.
	LastBlockHash string
	LastBlockAt   time.Time
	// State and Error are the watcher's last report (Error has no secret).
	State chains.SyncState
	Error string
	// HeartbeatAt is when the sync role last wrote its heartbeat; zero:
	// never.
	HeartbeatAt time.Time
}

// Lag is how many blocks the ledger is behind the node (0 when unknown).
func (c ChainStatus) Lag() int64 {
	if c.NodeHeight <= c.Height {
		return 0
	}
	return c.NodeHeight - c.Height
}

// DeliveryStats are the delivery figures of the console's overview.
type DeliveryStats struct {
	Pending      int64 // waiting, no failed attempt for their current totals
	Failing      int64 // active subscriptions whose newest notification is failing
	Acknowledged int64 // acknowledged at or after the query's since
	// AckLatency is the time from the observation of a payment to the
	// acknowledgement of the notification about it, over the
	// notifications about chain events acknowledged since.
	AckLatency Latency
}

// Latency summarises a distribution of durations.
type Latency struct {
	P50, P95 time.Duration
	Count    int64 // how many samples; the percentiles mean nothing at 0
}

// Rotation is the outcome of an endpoint secret's rotation: the new secret
// (shown to the operator once) and until when the previous one signs too.
type Rotation struct {
	Secret             string
	PreviousValidUntil time.Time
}

// AddressBalance is an address's label, totals and every deposit ever
// recorded for it (oldest first), as GET /balance shows them.
type AddressBalance struct {
	Label    string
	Totals   Totals
	Deposits []Deposit
}
