package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

const subscriptionCols = `s.id, s.chain, s.address_id, a.address, a.label, s.endpoint_id, s.url, s.max_confirms, e.secret, s.legacy_secret,
  s.format, s.active, s.last_confirmed, s.last_unconfirmed, s.created_at, s.updated_at`

func subscriptionBy(ctx context.Context, q queryer, where string, args ...any) (ledger.Subscription, error) {
	var s ledger.Subscription
	var chain string
	var created, updated int64
	err := q.QueryRowContext(ctx, `SELECT `+subscriptionCols+` FROM subscriptions s JOIN addresses a ON a.id = s.address_id
  JOIN endpoints e ON e.id = s.endpoint_id WHERE `+where, args...).
		Scan(&s.ID, &chain, &s.AddressID, &s.Address, &s.Label, &s.EndpointID, &s.URL, &s.MaxConfirms, &s.Secret, &s.LegacySecret,
			&s.Format, &s.Active, &s.LastConfirmed, &s.LastUnconfirmed, &created, &updated)
	if err != nil {
		return ledger.Subscription{}, notFound(err, "subscription")
	}
	s.Chain, s.CreatedAt, s.UpdatedAt = chains.Chain(chain), fromMicros(created), fromMicros(updated)
	return s, nil
}

func urlHash(u string) string {
	h := sha256.Sum256([]byte(u))
	return hex.EncodeToString(h[:])
}

// Subscribe starts (or updates) IPNs about a watched address to url. The
// URL's endpoint signs them: secret becomes its signing secret when the
// URL is new, else the endpoint keeps the one it has (the answer's Secret
// is the endpoint's). The same (address, url) again updates max_confirms
// and format and reactivates it; created tells which happened. If the
// address's totals for this subscription differ from what it was last
// sent (nothing, for a new one), a notification with the current totals
// is created at once, listing the deposits that count as changes.
func (l *Ledger) Subscribe(ctx context.Context, c chains.Chain, addr, url string, maxConfirms int, format, secret string) (ledger.Subscription, bool, error) {
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "form" {
		return ledger.Subscription{}, false, fmt.Errorf("subscribe: format must be json or form, not %q", format)
	}
	if maxConfirms < 0 || maxConfirms > ledger.MaxConfirmsLimit {
		return ledger.Subscription{}, false, fmt.Errorf("subscribe: max_confirms must be between 0 and %d", ledger.MaxConfirmsLimit)
	}
	var sub ledger.Subscription
	var created bool
	subscribe := func(tx *sql.Tx) error {
		a, err := addressBy(ctx, tx, `chain = ? AND address = ?`, string(c), ledgerAddress(addr))
		if err != nil {
			return err
		}
		var id int64
		if id, created, err = l.subscribeRow(ctx, tx, c, a.ID, url, maxConfirms, format, secret); err != nil {
			return err
		}
		if _, _, err := l.refresh(ctx, tx, id, refreshMode{initial: created}); err != nil {
			return err
		}
		sub, err = subscriptionBy(ctx, tx, `s.id = ?`, id)
		return err
	}
	var err error
	for try := 0; try < 3; try++ { // a concurrent Subscribe of the same pair: the second try sees its row
		if err = l.ExecTx(ctx, subscribe); !errors.Is(err, errInsertRace) {
			break
		}
	}
	return sub, created, err
}

// subscribeRow inserts the subscription of (address, url), or updates
// max_confirms and format and reactivates it, in tx; the URL's endpoint is
// made with secret when new. It makes no notification (the caller
// refreshes). A concurrent insert of the same pair is errInsertRace.
func (l *Ledger) subscribeRow(ctx context.Context, tx *sql.Tx, c chains.Chain, addressID int64, url string, maxConfirms int,
	format, secret string) (id int64, created bool, err error) {
	now := micros(l.now())
	h := urlHash(url)
	endpointID, _, err := l.ensureEndpoint(ctx, tx, url, secret)
	if err != nil {
		return 0, false, err
	}
	existing, err := subscriptionBy(ctx, tx, `s.address_id = ? AND s.url_hash = ?`, addressID, h)
	switch {
	case err == nil:
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET max_confirms = ?, format = ?, active = 1, updated_at = ? WHERE id = ?`,
			maxConfirms, format, now, existing.ID); err != nil {
			return 0, false, fmt.Errorf("subscribe: %w", err)
		}
		return existing.ID, false, nil
	case !isNotFound(err):
		return 0, false, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (chain, address_id, endpoint_id, url, url_hash, max_confirms,
  legacy_secret, format, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, '', ?, 1, ?, ?)`, string(c), addressID, endpointID, url, h, maxConfirms,
		format, now, now)
	if err != nil {
		if isDuplicate(err) {
			return 0, false, fmt.Errorf("subscribe: %w", errInsertRace)
		}
		return 0, false, fmt.Errorf("subscribe: %w", err)
	}
	id, err = res.LastInsertId()
	return id, true, err
}

// Unsubscribe ends a subscription; what it still had pending is dropped.
func (l *Ledger) Unsubscribe(ctx context.Context, id int64) error {
	return l.ExecTx(ctx, func(tx *sql.Tx) error {
		now := micros(l.now())
		res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET active = 0, updated_at = ? WHERE id = ? AND active = 1`, now, id)
		if err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("subscription %d: %w", id, ledger.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `UPDATE notifications SET state = ?, updated_at = ? WHERE subscription_id = ? AND state = ?`,
			ledger.NoteSuperseded, now, id, ledger.NotePending)
		return err
	})
}

// Subscription returns one subscription (active or not).
func (l *Ledger) Subscription(ctx context.Context, id int64) (ledger.Subscription, error) {
	return subscriptionBy(ctx, l.db, `s.id = ?`, id)
}

// Redeliver makes the subscription's newest notification due now: the
// one still pending (or given up: failed), whatever back-off it was in, or,
// when it was delivered, a new one with the current totals. Its IPN-Id
// stays that of the newest notification unless a new one is made.
func (l *Ledger) Redeliver(ctx context.Context, id int64) (ledger.Notification, error) {
	var n ledger.Notification
	err := l.ExecTx(ctx, func(tx *sql.Tx) error {
		sub, err := subscriptionBy(ctx, tx, `s.id = ?`, id)
		if err != nil {
			return err
		}
		if !sub.Active {
			return fmt.Errorf("subscription %d is not active: %w", id, ledger.ErrNotFound)
		}
		// Totals that moved without a chain write (a time lock passed) make
		// a new notification, due now.
		made, fresh, err := l.refresh(ctx, tx, id, refreshMode{dueNow: true})
		if err != nil || made {
			n = fresh
			return err
		}
		var newest int64
		var state string
		err = tx.QueryRowContext(ctx, `SELECT id, state FROM notifications WHERE subscription_id = ? ORDER BY id DESC LIMIT 1`+
			l.dialect.forUpdate, id).Scan(&newest, &state)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("redeliver: %w", err)
		}
		if err == nil && (state == ledger.NotePending || state == ledger.NoteFailed) {
			now := micros(l.now())
			if _, err := tx.ExecContext(ctx, `UPDATE notifications SET state = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?`,
				ledger.NotePending, now, now, newest); err != nil {
				return fmt.Errorf("redeliver: %w", err)
			}
			ns, err := l.queryNotifications(ctx, tx, l.now(), `n.id = ?`, newest)
			if err != nil {
				return err
			}
			n = ns[0]
			return nil
		}
		_, n, err = l.refresh(ctx, tx, id, refreshMode{force: true, dueNow: true})
		return err
	})
	return n, err
}

// Attempts returns the newest delivery attempts of a subscription.
func (l *Ledger) Attempts(ctx context.Context, subscriptionID int64, limit int) ([]ledger.Attempt, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT notification_id, subscription_id, attempted_at, status, error, delivered, duration_us
  FROM delivery_attempts WHERE subscription_id = ? ORDER BY id DESC LIMIT ?`, subscriptionID, limit)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	var out []ledger.Attempt
	for rows.Next() {
		var a ledger.Attempt
		var at, dur int64
		if err := rows.Scan(&a.NotificationID, &a.SubscriptionID, &at, &a.Status, &a.Error, &a.Delivered, &dur); err != nil {
			return nil, err
		}
		a.At, a.Duration = fromMicros(at), microDuration(dur)
		out = append(out, a)
	}
	return out, rows.Err()
}
