package db

import "context"

// LockName exposes the MySQL lock name of purpose to the tests.
func (l *Ledger) LockName(ctx context.Context, purpose string) (string, error) {
	return lockName(ctx, l.db, purpose)
}
