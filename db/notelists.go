package db

// The notification and endpoint lists.

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

const notificationViewCols = `n.id, n.subscription_id, s.chain, a.address, a.label, s.url, n.confirmed, n.unconfirmed, n.height,
  n.state, n.attempts, n.last_status, n.last_error, n.next_attempt_at, n.created_at, n.delivered_at`

// queryNotificationViews reads notifications with their subscription's
// address, label and URL, and the time of each one's last attempt.
func (l *Ledger) queryNotificationViews(ctx context.Context, cond string, args ...any) ([]ledger.NotificationView, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT `+notificationViewCols+` FROM notifications n
  JOIN subscriptions s ON s.id = n.subscription_id JOIN addresses a ON a.id = s.address_id WHERE `+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []ledger.NotificationView
	for rows.Next() {
		var n ledger.NotificationView
		var chain string
		var next, created, delivered int64
		if err := rows.Scan(&n.ID, &n.SubscriptionID, &chain, &n.Address, &n.Label, &n.URL, &n.Confirmed, &n.Unconfirmed,
			&n.Height, &n.State, &n.Attempts, &n.LastStatus, &n.LastError, &next, &created, &delivered); err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		n.Chain = chains.Chain(chain)
		n.NextAttemptAt, n.CreatedAt, n.DeliveredAt = fromMicros(next), fromMicros(created), fromMicros(delivered)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	rows.Close()
	return out, l.addLastAttempts(ctx, out)
}

// addLastAttempts sets LastAttemptAt of the notifications that had an
// attempt, from their subscriptions' attempts (the (subscription_id, id)
// index).
func (l *Ledger) addLastAttempts(ctx context.Context, ns []ledger.NotificationView) error {
	var subs, notes []any
	seen := map[int64]bool{}
	for _, n := range ns {
		if n.Attempts == 0 {
			continue
		}
		notes = append(notes, n.ID)
		if !seen[n.SubscriptionID] {
			seen[n.SubscriptionID] = true
			subs = append(subs, n.SubscriptionID)
		}
	}
	if len(notes) == 0 {
		return nil
	}
	rows, err := l.db.QueryContext(ctx, `SELECT notification_id, MAX(attempted_at) FROM delivery_attempts
  WHERE subscription_id IN (`+placeholders(len(subs))+`) AND notification_id IN (`+placeholders(len(notes))+`)
  GROUP BY notification_id`, append(subs, notes...)...)
	if err != nil {
		return fmt.Errorf("last attempts: %w", err)
	}
	defer rows.Close()
	last := map[int64]int64{}
	for rows.Next() {
		var id, at int64
		if err := rows.Scan(&id, &at); err != nil {
			return fmt.Errorf("last attempts: %w", err)
		}
		last[id] = at
	}
	for i := range ns {
		ns[i].LastAttemptAt = fromMicros(last[ns[i].ID])
	}
	return rows.Err()
}

// Notification lists run in two phases, failing notifications first; a
// cursor is the phase's letter and the last id read ("f123", "o45").
const (
	phaseFailing = 'f'
	phaseOthers  = 'o'
)

func noteCursor(after string) (byte, int64, error) {
	if after == "" {
		return phaseFailing, 0, nil
	}
	if len(after) < 2 || (after[0] != phaseFailing && after[0] != phaseOthers) {
		return 0, 0, fmt.Errorf("list notifications: cursor %.40q: %w", after, ledger.ErrInvalidCursor)
	}
	id, err := idCursor(after[1:])
	return after[0], id, err
}

// ListNotifications lists notifications: the failing ones first, newest
// first, then the others newest first.
func (l *Ledger) ListNotifications(ctx context.Context, q ledger.NotificationQuery) (ledger.Page[ledger.NotificationView], error) {
	var page ledger.Page[ledger.NotificationView]
	if err := checkLimit(q.Limit); err != nil {
		return page, err
	}
	phase, after, err := noteCursor(q.After)
	if err != nil {
		return page, err
	}
	var w where
	if q.Chain != "" {
		w.add(`s.chain = ?`, string(q.Chain))
	}
	if q.SubscriptionID != 0 {
		w.add(`n.subscription_id = ?`, q.SubscriptionID)
	}
	if q.Address != "" {
		sub, args := addressIDs(q.Chain, q.Address)
		w.add(`n.subscription_id IN (SELECT id FROM subscriptions WHERE address_id IN (`+sub+`))`, args...)
	}
	if q.Label != "" {
		w.add(`n.subscription_id IN (SELECT s2.id FROM subscriptions s2 JOIN addresses a2 ON a2.id = s2.address_id
  WHERE a2.label LIKE ? ESCAPE '!')`, likePrefix(q.Label))
	}
	switch q.State {
	case "":
	case ledger.NotePending, ledger.NoteDelivered, ledger.NoteSuperseded, ledger.NoteFailed:
		w.add(`n.state = ?`, q.State)
	default:
		return page, fmt.Errorf("list notifications: unknown state %q", q.State)
	}
	type row struct {
		phase byte
		n     ledger.NotificationView
	}
	var got []row
	for _, ph := range []byte{phaseFailing, phaseOthers} {
		if (ph == phaseFailing && phase == phaseOthers) || (ph == phaseOthers && q.Failing) {
			continue
		}
		cond := failingSQL
		if ph == phaseOthers {
			cond = `NOT (` + failingSQL + `)`
		}
		pw := where{conds: append([]string{cond}, w.conds...), args: append([]any(nil), w.args...)}
		if ph == phase && after > 0 {
			pw.add(`n.id < ?`, after)
		}
		ns, err := l.queryNotificationViews(ctx, pw.sql()+` ORDER BY n.id DESC LIMIT ?`, append(pw.args, q.Limit+1-len(got))...)
		if err != nil {
			return page, err
		}
		for _, n := range ns {
			got = append(got, row{ph, n})
		}
		if len(got) > q.Limit {
			break
		}
	}
	if len(got) > q.Limit {
		got = got[:q.Limit]
		last := got[len(got)-1]
		page.Next = string(last.phase) + strconv.FormatInt(last.n.ID, 10)
	}
	for _, r := range got {
		page.Items = append(page.Items, r.n)
	}
	return page, nil
}

// endpointCursor is the last endpoint's URL and id: URLs are ordered by
// the database's collation (case-insensitive on MySQL), the id breaks
// ties.
func endpointCursor(after string) (string, int64, error) {
	if after == "" {
		return "", 0, nil
	}
	enc, idText, ok := strings.Cut(after, ".")
	u, err := base64.RawURLEncoding.DecodeString(enc)
	id, ierr := idCursor(idText)
	if !ok || err != nil || ierr != nil || id == 0 {
		return "", 0, fmt.Errorf("list endpoints: cursor %.40q: %w", after, ledger.ErrInvalidCursor)
	}
	return string(u), id, nil
}

// ListEndpoints lists receiver URLs in URL order, each with its active and
// failing subscriptions, its last attempt and its secret's age.
func (l *Ledger) ListEndpoints(ctx context.Context, q ledger.EndpointQuery) (ledger.Page[ledger.EndpointView], error) {
	var page ledger.Page[ledger.EndpointView]
	if err := checkLimit(q.Limit); err != nil {
		return page, err
	}
	afterURL, afterID, err := endpointCursor(q.After)
	if err != nil {
		return page, err
	}
	var w where
	if q.Prefix != "" {
		w.add(`e.url LIKE ? ESCAPE '!'`, likePrefix(q.Prefix))
	}
	if afterID > 0 {
		w.add(`(e.url > ? OR (e.url = ? AND e.id > ?))`, afterURL, afterURL, afterID)
	}
	if q.Failing {
		w.add(`EXISTS (SELECT 1 FROM subscriptions s WHERE s.endpoint_id = e.id AND s.active = 1 AND s.id IN (` + failingSubsSQL + `))`)
	}
	rows, err := l.db.QueryContext(ctx, `SELECT e.id, e.url, e.updated_at, e.previous_until FROM endpoints e WHERE `+w.sql()+
		` ORDER BY e.url, e.id LIMIT ?`, append(w.args, q.Limit+1)...)
	if err != nil {
		return page, fmt.Errorf("list endpoints: %w", err)
	}
	type endpoint struct {
		id int64
		ledger.EndpointView
	}
	var es []endpoint
	now := micros(l.now())
	for rows.Next() {
		var e endpoint
		var since, prevUntil int64
		if err := rows.Scan(&e.id, &e.URL, &since, &prevUntil); err != nil {
			rows.Close()
			return page, fmt.Errorf("list endpoints: %w", err)
		}
		e.SecretSince = fromMicros(since)
		if prevUntil > now {
			e.PreviousValidUntil = fromMicros(prevUntil)
		}
		es = append(es, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list endpoints: %w", err)
	}
	if len(es) > q.Limit {
		es = es[:q.Limit]
		last := es[len(es)-1]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(last.URL)) + "." + strconv.FormatInt(last.id, 10)
	}
	var ids []any
	for _, e := range es {
		if strings.HasPrefix(e.URL, q.Prefix) { // the exact prefix, in every database
			ids = append(ids, e.id)
		}
	}
	figures, err := l.endpointFigures(ctx, ids)
	if err != nil {
		return page, err
	}
	for _, e := range es {
		if f, ok := figures[e.id]; ok {
			e.Subscriptions, e.Failing, e.LastAttempt = f.Subscriptions, f.Failing, f.LastAttempt
			page.Items = append(page.Items, e.EndpointView)
		}
	}
	return page, nil
}

// endpointFigures counts the active and failing subscriptions of the
// endpoints ids and reads the last attempt to each, three queries for the
// page: the (endpoint_id, active) index, the failing subscriptions once, and
// each subscription's newest attempt (a dive into the (subscription_id, id)
// index).
func (l *Ledger) endpointFigures(ctx context.Context, ids []any) (map[int64]*ledger.EndpointView, error) {
	out := map[int64]*ledger.EndpointView{}
	for _, id := range ids {
		out[id.(int64)] = &ledger.EndpointView{}
	}
	if len(ids) == 0 {
		return out, nil
	}
	in := `(` + placeholders(len(ids)) + `)`
	count := func(query string, set func(e *ledger.EndpointView, n int64)) error {
		rows, err := l.db.QueryContext(ctx, query, ids...)
		if err != nil {
			return fmt.Errorf("endpoint figures: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				return fmt.Errorf("endpoint figures: %w", err)
			}
			if e := out[id]; e != nil {
				set(e, n)
			}
		}
		return rows.Err()
	}
	if err := count(`SELECT endpoint_id, COUNT(*) FROM subscriptions WHERE endpoint_id IN `+in+` AND active = 1 GROUP BY endpoint_id`,
		func(e *ledger.EndpointView, n int64) { e.Subscriptions = n }); err != nil {
		return nil, err
	}
	if err := count(`SELECT s.endpoint_id, COUNT(*) FROM subscriptions s WHERE s.endpoint_id IN `+in+` AND s.active = 1
  AND s.id IN (`+failingSubsSQL+`) GROUP BY s.endpoint_id`,
		func(e *ledger.EndpointView, n int64) { e.Failing = n }); err != nil {
		return nil, err
	}
	last := map[int64]int64{} // attempt id -> endpoint
	rows, err := l.db.QueryContext(ctx, `SELECT s.endpoint_id, MAX((SELECT MAX(d.id) FROM delivery_attempts d WHERE d.subscription_id = s.id))
  FROM subscriptions s WHERE s.endpoint_id IN `+in+` GROUP BY s.endpoint_id`, ids...)
	if err != nil {
		return nil, fmt.Errorf("endpoint last attempts: %w", err)
	}
	var attemptIDs []any
	for rows.Next() {
		var ep int64
		var a sql.NullInt64
		if err := rows.Scan(&ep, &a); err != nil {
			rows.Close()
			return nil, fmt.Errorf("endpoint last attempts: %w", err)
		}
		if a.Valid {
			last[a.Int64] = ep
			attemptIDs = append(attemptIDs, a.Int64)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(attemptIDs) == 0 {
		return out, err
	}
	rows, err = l.db.QueryContext(ctx, `SELECT id, notification_id, subscription_id, attempted_at, status, error, delivered, duration_us
  FROM delivery_attempts WHERE id IN (`+placeholders(len(attemptIDs))+`)`, attemptIDs...)
	if err != nil {
		return nil, fmt.Errorf("endpoint last attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, at, dur int64
		var a ledger.Attempt
		if err := rows.Scan(&id, &a.NotificationID, &a.SubscriptionID, &at, &a.Status, &a.Error, &a.Delivered, &dur); err != nil {
			return nil, fmt.Errorf("endpoint last attempts: %w", err)
		}
		a.At, a.Duration = fromMicros(at), microDuration(dur)
		out[last[id]].LastAttempt = a
	}
	return out, rows.Err()
}
