package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ipnd/ipnd/ledger"
)

// NextDue returns when the earliest pending notification is due (ok false:
// none is pending). An idle IPN worker asks it at every poll_interval
// instead of claiming (ipn.NextDuer).
func (l *Ledger) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	var v sql.NullInt64
	if l.dialect.name == "sqlite" {
		// A local read bounded by the busy timeout; without a cancellable
		// context the driver starts no interrupt goroutine per query (an
		// idle IPN worker asks this 5 times a second).
		ctx = context.WithoutCancel(ctx)
	}
	st, err := l.nextDueStmt(ctx)
	if err == nil {
		err = st.QueryRowContext(ctx, ledger.NotePending).Scan(&v)
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due notification: %w", err)
	}
	return fromMicros(v.Int64), v.Valid, nil
}

// nextDueStmt is NextDue's query prepared once: an idle IPN worker asks it
// at every poll_interval, and parsing it was most of that cost.
func (l *Ledger) nextDueStmt(ctx context.Context) (*sql.Stmt, error) {
	l.stmtMu.Lock()
	defer l.stmtMu.Unlock()
	if l.nextDue != nil {
		return l.nextDue, nil
	}
	st, err := l.db.PrepareContext(ctx, `SELECT MIN(next_attempt_at) FROM notifications WHERE state = ?`)
	if err != nil {
		return nil, err
	}
	l.nextDue = st
	return st, nil
}
