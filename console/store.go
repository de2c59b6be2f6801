package console

import (
	"context"
	"errors"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ledger"
)

// Store is what the console reads from the ledger and the actions it asks
// of it. Attempts, Redeliver and Unsubscribe are *db.Ledger's methods as
// they are; the others are list queries shaped for SQL. Every list is
// keyset-paginated: a query carries the opaque cursor After ("" for the
// first page) and a Limit (1..MaxLimit), and the answer's Next is the
// cursor of the following page ("" on the last one). A cursor is whatever
// the store can resume an indexed scan from (the last row's sort key);
// the console only passes it back. A cursor the store did not make is an
// error wrapping ErrInvalidCursor; a missing record one wrapping
// ErrNotFound (ledger.ErrNotFound). Errors must not carry secrets: the
// console logs them.
type Store interface {
	// ChainStatuses is one row per enabled chain, from the sync role's
	// heartbeat (the ledger's chain tip and what the watcher last wrote).
	ChainStatuses(ctx context.Context) ([]ChainStatus, error)
	// DeliveryStats counts the notifications pending and failing now, the
	// ones acknowledged at or after since, and the payment → acknowledgement
	// latency of those.
	DeliveryStats(ctx context.Context, since time.Time) (DeliveryStats, error)

	// ListAddresses lists watched addresses, newest first.
	ListAddresses(ctx context.Context, q AddressQuery) (Page[chains.Address], error)
	// ListSubscriptions lists subscriptions, newest first, each with its
	// newest notification.
	ListSubscriptions(ctx context.Context, q SubscriptionQuery) (Page[Subscription], error)
	// SubscriptionByID is one subscription (active or ended) with its
	// newest notification.
	SubscriptionByID(ctx context.Context, id int64) (Subscription, error)
	// Attempts are a subscription's newest delivery attempts, newest first.
	Attempts(ctx context.Context, subscriptionID int64, limit int) ([]ledger.Attempt, error)
	// ListEndpoints lists receiver URLs (the unit signing secrets belong
	// to), by URL.
	ListEndpoints(ctx context.Context, q EndpointQuery) (Page[Endpoint], error)
	// ListNotifications lists notifications, failing ones first (newest
	// first among them), then the others newest first.
	ListNotifications(ctx context.Context, q NotificationQuery) (Page[Notification], error)

	// Redeliver makes a notification with the subscription's current totals
	// due now (ErrNotFound for an unknown or ended subscription); the
	// console does not look at the notification.
	Redeliver(ctx context.Context, subscriptionID int64) (ledger.Notification, error)
	// RedeliverFailing does Redeliver for every failing subscription of the
	// endpoint (exact URL) and says how many there were.
	RedeliverFailing(ctx context.Context, endpointURL string) (int, error)
	// RotateSecret gives the endpoint a new signing secret; the previous one
	// stays valid (IPNs carry both signatures) until the answer's
	// PreviousValidUntil. The new secret is shown to the operator once.
	RotateSecret(ctx context.Context, endpointURL string) (Rotation, error)
	// Unsubscribe ends a subscription; what it had pending is dropped
	// (ErrNotFound for an unknown or already ended one).
	Unsubscribe(ctx context.Context, subscriptionID int64) error
}

// InvoiceStore lists invoices for the console's invoice page; optional.
type InvoiceStore interface {
	// ListInvoices lists invoices, newest first.
	ListInvoices(ctx context.Context, q InvoiceQuery) (Page[invoice.Invoice], error)
}

// Authenticator checks the API key an operator signs in with.
type Authenticator interface {
	// Authenticate reports whether key is one of the API keys, in time
	// that does not depend on how much of it matches.
	Authenticate(key string) bool
}

// Notifier wakes the console's live views when something they show may
// have changed (a block, a notification, an attempt), so they need not
// wait for the next poll. Without one they poll every Options.Refresh,
// which is also what they do for changes made by other processes.
type Notifier interface {
	// Watch returns a channel that receives a value (coalesced: at most
	// one waits) after each change, until stop is called.
	Watch() (changed <-chan struct{}, stop func())
}

// Errors a Store wraps so that the console can answer 404 or 400.
var (
	ErrNotFound      = ledger.ErrNotFound
	ErrInvalidCursor = errors.New("invalid cursor")
)

// MaxLimit is the largest Limit the console asks for.
const MaxLimit = 100

// Page is one page of a list; Next is the cursor of the following page, ""
// on the last.
type Page[T any] struct {
	Items []T
	Next  string
}

// Cursor is the position in a list: After is the Next of the previous page
// ("" for the first), Limit the number of items wanted.
type Cursor struct {
	After string
	Limit int
}

// AddressQuery filters ListAddresses. Search matches an address exactly or
// labels by prefix (both indexed); "" matches every address.
type AddressQuery struct {
	Chain  chains.Chain // "" for every chain
	Search string
	Cursor
}

// SubscriptionState filters subscriptions.
type SubscriptionState string

const (
	AnySubscription      SubscriptionState = ""
	ActiveSubscriptions  SubscriptionState = "active"
	FailingSubscriptions SubscriptionState = "failing" // active, newest notification failing (see Notification.Failing)
	EndedSubscriptions   SubscriptionState = "ended"
)

// SubscriptionQuery filters ListSubscriptions; empty fields match everything.
type SubscriptionQuery struct {
	Chain   chains.Chain
	Address string // exact
	URL     string // exact receiver URL
	State   SubscriptionState
	Cursor
}

// EndpointQuery filters ListEndpoints: URLs starting with Prefix, only the ones
// with a failing subscription when Failing.
type EndpointQuery struct {
	Prefix  string
	Failing bool
	Cursor
}

// NotificationQuery filters ListNotifications; Failing keeps only failing
// ones.
type NotificationQuery struct {
	Chain          chains.Chain
	SubscriptionID int64 // 0 for every subscription
	Failing        bool
	Cursor
}

// InvoiceQuery filters ListInvoices; empty fields match everything.
type InvoiceQuery struct {
	Status  invoice.Status
	OrderID string // exact
	Cursor
}

// ChainStatus is one chain's line on the overview.
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
	// HeartbeatAt is when the sync role last wrote this row; zero: never.
	HeartbeatAt time.Time
}

// Lag is how many blocks the ledger is behind the node (0 when unknown).
func (c ChainStatus) Lag() int64 {
	if c.NodeHeight <= c.Height {
		return 0
	}
	return c.NodeHeight - c.Height
}

// DeliveryStats are the overview's delivery figures.
type DeliveryStats struct {
	Pending      int64 // waiting, no failed attempt for their current totals
	Failing      int64 // pending after a failed attempt, or given up
	Acknowledged int64 // acknowledged at or after the query's since
	// AckLatency is the time from the observation of a payment to the
	// acknowledgement of the notification about it, over the
	// notifications acknowledged since.
	AckLatency Latency
}

// Latency summarises a distribution of durations.
type Latency struct {
	P50, P95 time.Duration
	Count    int64 // how many samples; the percentiles mean nothing at 0
}

// Subscription is one subscription and the state of its newest
// notification (Newest.ID is 0 when none was made yet).
type Subscription struct {
	ID          int64
	Chain       chains.Chain
	Address     string
	Label       string // the address's label
	URL         string
	MaxConfirms int
	Format      string
	Active      bool
	CreatedAt   time.Time
	Newest      Notification
}

// Notification is one IPN and where its delivery stands.
type Notification struct {
	ID             int64
	SubscriptionID int64
	Chain          chains.Chain
	Address        string
	URL            string
	Confirmed      uint64 // atomic units
	Unconfirmed    uint64
	State          string // ledger.NotePending, NoteDelivered, NoteSuperseded, NoteFailed
	Attempts       int
	LastAttemptAt  time.Time
	LastStatus     int    // HTTP status of the last attempt, 0 when none
	LastError      string // "" when none
	NextAttemptAt  time.Time
	CreatedAt      time.Time
	DeliveredAt    time.Time
}

// Failing is the definition the store's Failing filters use: given up,
// or pending after at least one failed attempt.
func (n Notification) Failing() bool {
	return n.State == ledger.NoteFailed || (n.State == ledger.NotePending && n.Attempts > 0)
}

// Endpoint is one receiver URL: its subscriptions share a signing secret.
type Endpoint struct {
	URL           string
	Subscriptions int64          // active
	Failing       int64          // active and failing
	LastAttempt   ledger.Attempt // zero At when none
	// SecretSince is when the current secret was issued;
	// PreviousValidUntil the end of the previous one's grace period (zero
	// when there is none).
	SecretSince        time.Time
	PreviousValidUntil time.Time
}

// Rotation is the answer of RotateSecret.
type Rotation struct {
	Secret             string
	PreviousValidUntil time.Time
}
