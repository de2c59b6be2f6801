package console

import (
	"context"
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
	ErrInvalidCursor = ledger.ErrInvalidCursor
)

// MaxLimit is the largest Limit the console asks for.
const MaxLimit = 100

// The list types are the ledger's (package ledger documents them): the
// GET list endpoints of the API and the CLI use the same queries.
type (
	Page[T any]       = ledger.Page[T]
	Cursor            = ledger.Cursor
	AddressQuery      = ledger.AddressQuery
	SubscriptionState = ledger.SubscriptionState
	SubscriptionQuery = ledger.SubscriptionQuery
	EndpointQuery     = ledger.EndpointQuery
	NotificationQuery = ledger.NotificationQuery
	ChainStatus       = ledger.ChainStatus
	DeliveryStats     = ledger.DeliveryStats
	Latency           = ledger.Latency
	Subscription      = ledger.SubscriptionView
	Notification      = ledger.NotificationView
	Endpoint          = ledger.EndpointView
	Rotation          = ledger.Rotation
)

// Subscription states of a SubscriptionQuery.
const (
	AnySubscription      = ledger.AnySubscription
	ActiveSubscriptions  = ledger.ActiveSubscriptions
	FailingSubscriptions = ledger.FailingSubscriptions
	EndedSubscriptions   = ledger.EndedSubscriptions
)

// InvoiceQuery filters ListInvoices; empty fields match everything, an
// OrderID exactly.
type InvoiceQuery = ledger.InvoiceQuery
