package db

import (
	"context"
	"io/fs"
	"time"
)

// LockName exposes the MySQL lock name of purpose to the tests.
func (l *Ledger) LockName(ctx context.Context, purpose string) (string, error) {
	return lockName(ctx, l.db, purpose)
}

// SetMigrations replaces the embedded migrations with fsys (which holds
// migrations/mysql/*.sql and migrations/sqlite/*.sql).
func (l *Ledger) SetMigrations(fsys fs.FS) { l.migrationFS = fsys }

// SkewLocalClock makes this machine's clock run d ahead for the ledgers
// opened until the returned function restores it.
func SkewLocalClock(d time.Duration) (restore func()) {
	localClock = func() time.Time { return time.Now().Add(d) }
	return func() { localClock = time.Now }
}

// MigrateUpTo migrates to schema version v (a test of a later migration
// starts from an older schema).
func (l *Ledger) MigrateUpTo(ctx context.Context, v int) (from, to int, err error) {
	return l.migrateUpTo(ctx, v)
}
