package console_test

import (
	"context"

	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

// db.ConsoleStore is the console's store on the real ledger: *db.Ledger's
// lists and actions plus what needs the enabled chains and the secret
// settings.
var _ console.Store = db.ConsoleStore{}

// ledgerHas is the part of console.Store that *db.Ledger already has: the
// ledger implements the Store by adding the list queries and the endpoint
// actions, not by adapting these. Both assignments compile only while the
// signatures agree.
type ledgerHas interface {
	Attempts(ctx context.Context, subscriptionID int64, limit int) ([]ledger.Attempt, error)
	Redeliver(ctx context.Context, subscriptionID int64) (ledger.Notification, error)
	Unsubscribe(ctx context.Context, subscriptionID int64) error
}

var (
	_ ledgerHas = (*db.Ledger)(nil)
	_ ledgerHas = console.Store(nil)
)
