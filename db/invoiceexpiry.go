package db

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/ipnd/ipnd/invoice"
)

// expiryBatch bounds the invoices one ExpireInvoices call expires.
const expiryBatch = 200

// ExpireInvoices moves every new invoice whose expires_at has come (on the
// ledger's clock) to expired, underpaid or late (invoice.Evaluate at the
// time read after locking it), each in a transaction of its own with the
// notification of its transition. It returns how many changed status, and
// when the next new invoice expires (zero when none is waiting). Several
// processes may run it at once: an invoice is expired once.
func (l *Ledger) ExpireInvoices(ctx context.Context) (expired int, next time.Time, err error) {
	for {
		rows, err := l.db.QueryContext(ctx, `SELECT id FROM invoices WHERE status = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
			string(invoice.StatusNew), micros(l.now()), expiryBatch)
		if err != nil {
			return expired, time.Time{}, fmt.Errorf("find expired invoices: %w", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return expired, time.Time{}, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return expired, time.Time{}, err
		}
		for _, id := range ids {
			var moved bool
			err := l.ExecTx(ctx, func(tx *sql.Tx) error {
				ev, err := l.evaluateInvoice(ctx, tx, `i.id = ? AND i.status = ?`, []any{id, string(invoice.StatusNew)}, l.evaluateLogged)
				if isNotFound(err) {
					return nil // another process (or a payment) moved it first
				}
				if err != nil {
					return err
				}
				moved = ev.Transition
				return l.notifyTransition(ctx, tx, ev)
			})
			if err != nil {
				return expired, time.Time{}, fmt.Errorf("expire invoice: %w", err)
			}
			if moved {
				expired++
			}
		}
		if len(ids) < expiryBatch {
			break
		}
	}
	var at sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT MIN(expires_at) FROM invoices WHERE status = ?`, string(invoice.StatusNew)).Scan(&at); err != nil {
		return expired, time.Time{}, fmt.Errorf("next invoice expiry: %w", err)
	}
	return expired, fromMicros(at.Int64), nil
}

// InvoiceExpiry runs ExpireInvoices at each new invoice's expires_at: it
// sleeps until the next one (on the ledger's clock) but never longer than
// Poll, so invoices other processes create are found within Poll.
type InvoiceExpiry struct {
	Ledger *Ledger
	// Poll bounds a sleep (default 1 s).
	Poll time.Duration
	// Expired, when set, is called after a pass that changed invoices (to
	// wake this process's IPN worker).
	Expired func(n int)
	Logger  *slog.Logger
}

// Run expires invoices until ctx ends; errors are logged and retried.
func (e InvoiceExpiry) Run(ctx context.Context) error {
	poll := e.Poll
	if poll <= 0 {
		poll = time.Second
	}
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("subsystem", "db")
	for {
		n, next, err := e.Ledger.ExpireInvoices(ctx)
		wait := poll
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("invoice expiry failed; retrying", "err", err, "retry_in", poll)
		default:
			if n > 0 && e.Expired != nil {
				e.Expired(n)
			}
			// An invoice left new past its expiry (it could not be
			// evaluated, and was logged) waits for the next poll.
			if d := next.Sub(e.Ledger.Now()); !next.IsZero() && d > 0 {
				wait = min(poll, d)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
