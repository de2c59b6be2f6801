package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

func isNotFound(err error) bool { return errors.Is(err, ledger.ErrNotFound) }

func microDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

const notificationCols = `n.id, n.subscription_id, s.endpoint_id, s.chain, a.address, s.url, e.secret, e.previous_secret,
  e.previous_until, s.legacy_secret, e.legacy_until, e.failing, n.confirmed, n.unconfirmed, n.height,
  n.body, n.content_type, n.state, n.attempts, n.next_attempt_at, n.lease_owner, n.lease_until, n.last_status, n.last_error,
  n.created_at, n.observed_at, n.updated_at, n.delivered_at`

// queryNotifications reads notifications with the secrets that sign them
// at now; the tables are joined from notifications outwards.
func (l *Ledger) queryNotifications(ctx context.Context, q queryer, now time.Time, where string, args ...any) ([]ledger.Notification, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+l.dialect.straightJoin+notificationCols+` FROM notifications n
  JOIN subscriptions s ON s.id = n.subscription_id JOIN addresses a ON a.id = s.address_id
  JOIN endpoints e ON e.id = s.endpoint_id WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	defer rows.Close()
	var out []ledger.Notification
	for rows.Next() {
		var n ledger.Notification
		var chain, previous, legacy string
		var prevUntil, legacyUntil, next, lease, created, observed, updated, delivered int64
		if err := rows.Scan(&n.ID, &n.SubscriptionID, &n.EndpointID, &chain, &n.Address, &n.URL, &n.Secret, &previous,
			&prevUntil, &legacy, &legacyUntil, &n.EndpointFailing, &n.Confirmed, &n.Unconfirmed,
			&n.Height, &n.Body, &n.ContentType, &n.State, &n.Attempts, &next, &n.LeaseOwner, &lease, &n.LastStatus,
			&n.LastError, &created, &observed, &updated, &delivered); err != nil {
			return nil, fmt.Errorf("read notifications: %w", err)
		}
		n.Chain = chains.Chain(chain)
		n.ExtraSecrets = extraSecrets(n.Secret, previous, prevUntil, legacy, legacyUntil, micros(now))
		n.NextAttemptAt, n.LeaseUntil = fromMicros(next), fromMicros(lease)
		n.CreatedAt, n.ObservedAt = fromMicros(created), fromMicros(observed)
		n.UpdatedAt, n.DeliveredAt = fromMicros(updated), fromMicros(delivered)
		out = append(out, n)
	}
	return out, rows.Err()
}

// Notifications returns a subscription's newest notifications.
func (l *Ledger) Notifications(ctx context.Context, subscriptionID int64, limit int) ([]ledger.Notification, error) {
	return l.queryNotifications(ctx, l.db, l.now(), `n.subscription_id = ? ORDER BY n.id DESC LIMIT ?`, subscriptionID, limit)
}

// Notification returns one notification.
func (l *Ledger) Notification(ctx context.Context, id int64) (ledger.Notification, error) {
	ns, err := l.queryNotifications(ctx, l.db, l.now(), `n.id = ?`, id)
	if err != nil {
		return ledger.Notification{}, err
	}
	if len(ns) == 0 {
		return ledger.Notification{}, fmt.Errorf("notification %d: %w", id, ledger.ErrNotFound)
	}
	return ns[0], nil
}

// ClaimDue leases up to limit pending notifications whose next attempt is
// due, for owner, for lease, on the ledger's clock (ClaimDueAt at Now).
func (l *Ledger) ClaimDue(ctx context.Context, owner string, lease time.Duration, limit int) ([]ledger.Notification, error) {
	return l.ClaimDueAt(ctx, owner, l.now(), lease, limit)
}

// ClaimDueAt leases up to limit pending notifications whose next attempt is
// due at now, for owner, until now+lease. A row is never leased to two
// owners at once (MySQL: SKIP LOCKED; SQLite: one writer), a subscription
// never has two notifications in flight, and a lease that ran out (its
// owner died) is taken over.
func (l *Ledger) ClaimDueAt(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]ledger.Notification, error) {
	if owner == "" || len(owner) > 64 {
		return nil, errors.New("claim notifications: owner must be 1 to 64 characters")
	}
	var out []ledger.Notification
	err := l.ExecTx(ctx, func(tx *sql.Tx) error {
		out = nil
		nowUs := micros(now)
		rows, err := tx.QueryContext(ctx, `SELECT id, subscription_id FROM notifications
  WHERE state = ? AND next_attempt_at <= ? AND lease_until < ? ORDER BY next_attempt_at, id LIMIT ?`+l.dialect.skipLocked,
			ledger.NotePending, nowUs, nowUs, limit)
		if err != nil {
			return fmt.Errorf("claim notifications: %w", err)
		}
		type cand struct{ id, sub int64 }
		var cands []cand
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.id, &c.sub); err != nil {
				rows.Close()
				return err
			}
			cands = append(cands, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(cands) == 0 {
			return err
		}
		// Subscriptions with another notification in flight wait for it.
		args := []any{nowUs}
		for _, c := range cands {
			args = append(args, c.sub)
		}
		busy := map[int64]bool{}
		rows, err = tx.QueryContext(ctx, `SELECT DISTINCT subscription_id FROM notifications
  WHERE lease_until >= ? AND subscription_id IN (`+placeholders(len(cands))+`)`, args...)
		if err != nil {
			return fmt.Errorf("claim notifications: %w", err)
		}
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return err
			}
			busy[s] = true
		}
		rows.Close()
		ids := []any{}
		for _, c := range cands {
			if !busy[c.sub] {
				busy[c.sub] = true
				ids = append(ids, c.id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		upd := append([]any{owner, micros(now.Add(lease))}, ids...)
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET lease_owner = ?, lease_until = ? WHERE id IN (`+placeholders(len(ids))+`)`, upd...); err != nil {
			return fmt.Errorf("claim notifications: %w", err)
		}
		out, err = l.queryNotifications(ctx, tx, now, `n.id IN (`+placeholders(len(ids))+`) ORDER BY n.next_attempt_at, n.id`, ids...)
		return err
	})
	return out, err
}

// RecordAttempt stores the outcome of one delivery attempt of a claimed
// notification n and releases its lease: delivered, or failed and scheduled
// RetryAfter from now (or at NextAttemptAt, or given up). A superseded
// notification is not retried. A failure marks n's endpoint failing; an
// acknowledgement from a failing endpoint makes up to res.CatchUp of its
// notifications waiting in back-off due now (and, when fewer were waiting,
// ends the endpoint's failing mark).
// It returns ErrLeaseLost when n's lease ran out (the attempt is still
// logged, the notification left as it is).
func (l *Ledger) RecordAttempt(ctx context.Context, n ledger.Notification, res ledger.AttemptResult) error {
	errs, err := l.RecordAttempts(ctx, []ledger.Notification{n}, []ledger.AttemptResult{res})
	if err != nil {
		return err
	}
	return errs[0]
}

// RecordAttempts is RecordAttempt for many outcomes in one transaction (one
// commit for a batch of finished attempts, with one statement for all the
// attempt rows and one per delivered status); errs[i] is outcome i's
// ErrLeaseLost or nil. A lost lease (the lease ran out and another worker
// may hold it, or the notification is gone) concerns its outcome only:
// the others are recorded.
func (l *Ledger) RecordAttempts(ctx context.Context, ns []ledger.Notification, res []ledger.AttemptResult) (errs []error, err error) {
	if len(ns) != len(res) {
		return nil, errors.New("record attempts: one result per notification")
	}
	if len(ns) == 0 {
		return nil, nil
	}
	errs = make([]error, len(ns))
	err = l.ExecTx(ctx, func(tx *sql.Tx) error {
		clear(errs)
		now := micros(l.now())
		ids := make([]any, len(ns))
		for i, n := range ns {
			ids[i] = n.ID
		}
		type row struct {
			state, owner string
			until        int64
		}
		current := map[int64]row{}
		rows, err := tx.QueryContext(ctx, `SELECT id, state, lease_owner, lease_until FROM notifications WHERE id IN (`+
			placeholders(len(ids))+`)`+l.dialect.forUpdate, ids...)
		if err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		for rows.Next() {
			var id int64
			var r row
			if err := rows.Scan(&id, &r.state, &r.owner, &r.until); err != nil {
				rows.Close()
				return err
			}
			current[id] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var values strings.Builder
		attempts := 0
		args := make([]any, 0, 7*len(ns))
		delivered := map[int][]any{} // HTTP status -> ids
		failing := map[int64]bool{}  // endpoints with a failed attempt
		catchUp := map[int64]int{}   // acknowledging endpoints marked failing -> how many to wake
		for i, n := range ns {
			r := res[i]
			errText := truncate(r.Error, 1000)
			cur, ok := current[n.ID]
			if !ok {
				errs[i] = fmt.Errorf("notification %d is gone: %w (%w)", n.ID, ledger.ErrLeaseLost, ledger.ErrNotFound)
				continue
			}
			if attempts > 0 {
				values.WriteString(",")
			}
			attempts++
			values.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, n.ID, n.SubscriptionID, now, r.Status, errText, r.Delivered, r.Duration.Microseconds())
			if cur.owner != n.LeaseOwner || n.LeaseOwner == "" || cur.until < now {
				errs[i] = fmt.Errorf("notification %d: %w", n.ID, ledger.ErrLeaseLost)
				continue
			}
			if r.Delivered {
				delivered[r.Status] = append(delivered[r.Status], n.ID)
				if n.EndpointFailing && r.CatchUp > 0 && !failing[n.EndpointID] {
					catchUp[n.EndpointID] = max(catchUp[n.EndpointID], r.CatchUp)
				}
				continue
			}
			failing[n.EndpointID] = true
			delete(catchUp, n.EndpointID)
			state := cur.state
			if state == ledger.NotePending && r.GiveUp {
				state = ledger.NoteFailed
			}
			next := r.NextAttemptAt
			if r.RetryAfter > 0 || next.IsZero() {
				next = fromMicros(now).Add(r.RetryAfter)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE notifications SET state = ?, attempts = attempts + 1, next_attempt_at = ?,
  lease_owner = '', lease_until = 0, last_status = ?, last_error = ?, updated_at = ? WHERE id = ?`,
				state, micros(next), r.Status, errText, now, n.ID); err != nil {
				return fmt.Errorf("record attempt: %w", err)
			}
		}
		if attempts > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_attempts (notification_id, subscription_id, attempted_at, status,
  error, delivered, duration_us) VALUES `+values.String(), args...); err != nil {
				return fmt.Errorf("record attempts: %w", err)
			}
		}
		for status, ids := range delivered {
			a := append([]any{ledger.NoteDelivered, status, now, now}, ids...)
			if _, err := tx.ExecContext(ctx, `UPDATE notifications SET state = ?, attempts = attempts + 1, next_attempt_at = 0,
  lease_owner = '', lease_until = 0, last_status = ?, last_error = '', updated_at = ?, delivered_at = ?
  WHERE id IN (`+placeholders(len(ids))+`)`, a...); err != nil {
				return fmt.Errorf("record attempts: %w", err)
			}
		}
		for id := range failing {
			// A no-op (and no lock kept, under READ COMMITTED) when already set.
			if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET failing = 1 WHERE id = ? AND failing = 0`, id); err != nil {
				return fmt.Errorf("record attempts: %w", err)
			}
		}
		for id, limit := range catchUp {
			if err := l.catchUp(ctx, tx, id, limit, now); err != nil {
				return err
			}
		}
		return nil
	})
	return errs, err
}

// catchUp makes up to limit of endpoint id's pending notifications that
// wait in back-off due now (the receiver acknowledged again); when fewer
// were waiting the endpoint is no longer marked failing.
func (l *Ledger) catchUp(ctx context.Context, tx *sql.Tx, endpointID int64, limit int, now int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT n.id FROM subscriptions s JOIN notifications n ON n.subscription_id = s.id
  WHERE s.endpoint_id = ? AND n.state = ? AND n.next_attempt_at > ? AND n.lease_until < ?
  ORDER BY n.next_attempt_at LIMIT ?`, endpointID, ledger.NotePending, now, now, limit)
	if err != nil {
		return fmt.Errorf("catch up endpoint %d: %w", endpointID, err)
	}
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ids) > 0 {
		args := append([]any{now, now, ledger.NotePending}, ids...)
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET next_attempt_at = ?, updated_at = ? WHERE state = ? AND id IN (`+
			placeholders(len(ids))+`)`, args...); err != nil {
			return fmt.Errorf("catch up endpoint %d: %w", endpointID, err)
		}
	}
	if len(ids) < limit {
		if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET failing = 0 WHERE id = ? AND failing = 1`, endpointID); err != nil {
			return fmt.Errorf("catch up endpoint %d: %w", endpointID, err)
		}
	}
	return nil
}

// Defer hands a claimed notification back without an attempt, due again
// after (a worker that could not start it in time, or is stopping).
func (l *Ledger) Defer(ctx context.Context, n ledger.Notification, after time.Duration) error {
	now := l.now()
	_, err := l.db.ExecContext(ctx, `UPDATE notifications SET lease_owner = '', lease_until = 0, next_attempt_at = ?, updated_at = ?
  WHERE id = ? AND lease_owner = ? AND state = ?`, micros(now.Add(after)), micros(now), n.ID, n.LeaseOwner, ledger.NotePending)
	if err != nil {
		return fmt.Errorf("defer notification %d: %w", n.ID, err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// NotificationCounts counts the notifications that wait (for metrics):
// "pending", "due" (pending and due now) and "failed". Each is a range of
// the (state, next_attempt_at) index, as long as the backlog and never the
// whole table; delivered and superseded ones are not counted (the IPN
// worker's attempt counters cover them).
func (l *Ledger) NotificationCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	now := micros(l.now())
	for key, q := range map[string][]any{
		ledger.NotePending: {`SELECT COUNT(*) FROM notifications WHERE state = ?`, ledger.NotePending},
		"due":              {`SELECT COUNT(*) FROM notifications WHERE state = ? AND next_attempt_at <= ?`, ledger.NotePending, now},
		ledger.NoteFailed:  {`SELECT COUNT(*) FROM notifications WHERE state = ?`, ledger.NoteFailed},
	} {
		var n int64
		if err := l.db.QueryRowContext(ctx, q[0].(string), q[1:]...).Scan(&n); err != nil {
			return nil, fmt.Errorf("count notifications: %w", err)
		}
		out[key] = n
	}
	return out, nil
}
