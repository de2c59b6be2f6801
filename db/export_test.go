package db

import (
	"context"
	"io/fs"
)

// LockName exposes the MySQL lock name of purpose to the tests.
func (l *Ledger) LockName(ctx context.Context, purpose string) (string, error) {
	return lockName(ctx, l.db, purpose)
}

// SetMigrations replaces the embedded migrations with fsys (which holds
// migrations/mysql/*.sql and migrations/sqlite/*.sql).
func (l *Ledger) SetMigrations(fsys fs.FS) { l.migrationFS = fsys }
