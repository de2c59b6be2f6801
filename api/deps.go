package api

// What the API needs of the rest of ipnd: the ledger, the chain adapters,
// the console.

import (
	"context"
	"net/http"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// OpsLedger is what the health, readiness and metrics endpoints need of
// the ledger (*db.Ledger).
type OpsLedger interface {
	Ping(ctx context.Context) error
	// Heartbeats are the sync role's last reports, per chain.
	Heartbeats(ctx context.Context) (map[chains.Chain]ledger.Heartbeat, error)
	NotificationCounts(ctx context.Context) (map[string]int64, error)
}

// Ledger is what the API needs of the ledger (*db.Ledger).
type Ledger interface {
	OpsLedger
	Balance(ctx context.Context, c chains.Chain, addr string, maxConfirms int) (ledger.Totals, []ledger.Deposit, error)
	AddressBalance(ctx context.Context, c chains.Chain, addr string, maxConfirms int) (ledger.AddressBalance, error)
	AddressByString(ctx context.Context, c chains.Chain, addr string) (chains.Address, error)
	AddressByIndex(ctx context.Context, c chains.Chain, index uint32) (chains.Address, error)
	Subscribe(ctx context.Context, c chains.Chain, addr, url string, maxConfirms int, format, secret string) (ledger.Subscription, bool, error)
	Unsubscribe(ctx context.Context, id int64) error
	Subscription(ctx context.Context, id int64) (ledger.Subscription, error)
	Redeliver(ctx context.Context, id int64) (ledger.Notification, error)
	Attempts(ctx context.Context, subscriptionID int64, limit int) ([]ledger.Attempt, error)
	Notifications(ctx context.Context, subscriptionID int64, limit int) ([]ledger.Notification, error)
	RotateEndpointSecret(ctx context.Context, url, newSecret string, grace time.Duration) (ledger.Endpoint, error)
	Endpoint(ctx context.Context, url string) (ledger.Endpoint, error)
	// The lists (package ledger documents them).
	ListAddresses(ctx context.Context, q ledger.AddressQuery) (ledger.Page[chains.Address], error)
	ListSubscriptions(ctx context.Context, q ledger.SubscriptionQuery) (ledger.Page[ledger.SubscriptionView], error)
	ListNotifications(ctx context.Context, q ledger.NotificationQuery) (ledger.Page[ledger.NotificationView], error)
	RedeliverAll(ctx context.Context, q ledger.SubscriptionQuery) ([]int64, error)
}

// Chain is what the API needs of one enabled chain adapter.
//
// Errors: an error wrapping ErrRejected (or ledger.ErrIndexTaken /
// ledger.ErrAddressTaken) is the request's fault and answered 4xx with its
// message; any other error is answered 503 without details (and logged).
type Chain interface {
	// Allocate hands out a new receiving address: the next unused
	// derivation index (Bitcoin) or a new subaddress (Monero), recorded in
	// the ledger with label.
	Allocate(ctx context.Context, label string) (chains.Address, error)
	// AddressAt returns the address at a fixed derivation index (Bitcoin),
	// recorded in the ledger; the same index again returns the same address.
	// A chain without fixed indexes returns an error wrapping ErrRejected.
	AddressAt(ctx context.Context, index uint32, label string) (chains.Address, error)
	// Watch starts watching an address given by a subscriber and records it
	// in the ledger (idempotent). It refuses, wrapping ErrRejected, an
	// address it cannot watch (Monero: not a subaddress of the wallet's
	// account).
	Watch(ctx context.Context, addr string) (chains.Address, error)
	// Canonical checks an address's syntax and network, without side
	// effects, and returns the one form the ledger stores it in: bech32
	// lower case (BIP173 allows an all-upper-case form, common from QR
	// codes), base58 exactly as given (it is case-sensitive).
	Canonical(addr string) (string, error)
	// Status is this process's watcher status (nil watcher: another
	// process follows the chain). Readiness and the chain metrics read the
	// sync role's heartbeats in the ledger instead, in every process.
	Status() chains.Status
}

// ErrRejected marks an adapter error caused by the request (answered 400):
// chains.ErrRejected, which the chain adapters wrap.
var ErrRejected = chains.ErrRejected

// URLChecker validates a subscriber URL (ipn.CheckURL).
type URLChecker func(ctx context.Context, rawURL string, allowPrivate bool) error

// Console is the operator console (*console.Console), served at /console
// without the API key (it has its own sign-in).
type Console interface {
	http.Handler
	// Close ends its sessions and live streams (called when the server
	// stops: an open event stream would hold a graceful stop).
	Close()
}
