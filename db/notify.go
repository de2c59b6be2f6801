package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/ipnd/ipnd/ledger"
)

// notify creates a notification for every active subscription of the chain
// whose totals changed in this transaction: those on touched addresses, and
// those with a deposit whose depth crossed max_confirms (or whose unlock time
// may have passed) as the tip moved from oldTip to newTip.
func (w *chainWrite) notify() error {
	oldTip, newTip := w.oldTip.Height, w.newTip.Height
	ids := map[int64]bool{}
	collect := func(query string, args ...any) error {
		rows, err := w.tx.QueryContext(w.ctx, query, args...)
		if err != nil {
			return fmt.Errorf("find subscriptions to notify: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids[id] = true
		}
		return rows.Err()
	}
	touched := make([]any, 0, len(w.touched))
	for id := range w.touched {
		touched = append(touched, id)
	}
	for start := 0; start < len(touched); start += 500 {
		chunk := touched[start:min(start+500, len(touched))]
		args := append([]any{string(w.chain)}, chunk...)
		if err := collect(`SELECT id FROM subscriptions WHERE chain = ? AND active = 1 AND address_id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
			return err
		}
	}
	lo, hi := min(oldTip, newTip), max(oldTip, newTip)
	if lo != hi {
		// A deposit at height h reaches max_confirms m at tip h+m-1; with m
		// at most ledger.MaxConfirmsLimit only heights (lo-limit, hi+1] can cross,
		// a range the (chain, status, height) index serves.
		if err := collect(`SELECT DISTINCT s.id FROM subscriptions s JOIN deposits d ON d.address_id = s.address_id
  WHERE s.chain = ? AND s.active = 1 AND d.chain = ? AND d.status = ? AND d.height > ? AND d.height <= ?
  AND d.height + s.max_confirms - 1 > ? AND d.height + s.max_confirms - 1 <= ?`,
			string(w.chain), string(w.chain), ledger.StatusConfirmed, lo-ledger.MaxConfirmsLimit, hi+1, lo, hi); err != nil {
			return err
		}
	}
	// Monero unlock times: a height lock passes when tip+1 reaches it, a
	// time lock when the clock does (looked at for a day after, since the
	// chain writes at least once per block).
	now := w.l.now().Unix()
	if err := collect(`SELECT DISTINCT s.id FROM subscriptions s JOIN deposits d ON d.address_id = s.address_id
  WHERE s.chain = ? AND s.active = 1 AND d.chain = ? AND d.status = ? AND d.unlock_time > 0
  AND ((d.unlock_time > ? AND d.unlock_time <= ?) OR (d.unlock_time >= ? AND d.unlock_time > ? AND d.unlock_time <= ?))`,
		string(w.chain), string(w.chain), ledger.StatusConfirmed, lo+1, min(hi+1, ledger.UnlockHeightLimit-1),
		ledger.UnlockHeightLimit, now-86400, now); err != nil {
		return err
	}
	if len(w.forced) > 0 {
		forced := make([]any, 0, len(w.forced))
		for id := range w.forced {
			forced = append(forced, id)
		}
		if err := collect(`SELECT id FROM subscriptions WHERE active = 1 AND id IN (`+placeholders(len(forced))+`)`, forced...); err != nil {
			return err
		}
	}
	sorted := make([]int64, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, id := range sorted {
		made, n, err := w.l.refresh(w.ctx, w.tx, id, refreshMode{w: w, force: w.forced[id]})
		if errors.Is(err, ledger.ErrTotalOverflow) {
			// Deposits recorded before the ledger skipped what it cannot
			// store: this subscription is not notified, the chain goes on.
			w.l.log.Error("subscription not notified: its address's totals are beyond what the ledger stores",
				"chain", w.chain, "subscription", id, "err", err)
			continue
		}
		if err != nil {
			return err
		}
		if made {
			w.change.Notifications++
			w.made = append(w.made, n.CreatedAt.Sub(w.observed))
		}
	}
	return nil
}

// refreshMode says why a subscription's totals are looked at.
type refreshMode struct {
	// w is the chain write that may have changed them (nil for a
	// subscription or a redelivery).
	w *chainWrite
	// initial: a new subscription; every deposit that counts is listed as
	// a change from none.
	initial bool
	// force makes a notification even when nothing changed (redelivery,
	// an invoice's transition).
	force bool
	// dueNow makes it due at once, whatever back-off the receiver is in
	// (redelivery).
	dueNow bool
}

// refresh recomputes a subscription's totals and, when they (or how one of
// its deposits counts) differ from the newest notification's, or m.force
// is set, creates a notification carrying them with the changes. Older
// pending notifications of the subscription are superseded, so the
// receiver is sent the newest totals next.
func (l *Ledger) refresh(ctx context.Context, tx *sql.Tx, subID int64, m refreshMode) (bool, ledger.Notification, error) {
	var locked int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM subscriptions WHERE id = ?`+l.dialect.forUpdate, subID).Scan(&locked); err != nil {
		return false, ledger.Notification{}, notFound(err, "subscription")
	}
	sub, err := subscriptionBy(ctx, tx, `s.id = ?`, subID)
	if err != nil {
		return false, ledger.Notification{}, err
	}
	tip, _, err := tipOf(ctx, tx, sub.Chain)
	if err != nil {
		return false, ledger.Notification{}, err
	}
	where, args := `d.address_id = ? AND d.status IN (?, ?)`, []any{sub.AddressID, ledger.StatusMempool, ledger.StatusConfirmed}
	if m.w != nil {
		// Deposits this write took out of the totals are listed as changes.
		var gone []any
		for id, b := range m.w.before {
			if b.addressID == sub.AddressID {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			where = `d.address_id = ? AND (d.status IN (?, ?) OR d.id IN (` + placeholders(len(gone)) + `))`
			args = append(args, gone...)
		}
	}
	ds, err := queryDeposits(ctx, tx, where, args...)
	if err != nil {
		return false, ledger.Notification{}, err
	}
	now := l.now()
	t, err := ledger.SumTotals(ds, tip.Height, sub.MaxConfirms, now)
	if err != nil {
		return false, ledger.Notification{}, err
	}
	if t.Confirmed > l.maxStored() || t.Unconfirmed > l.maxStored() {
		return false, ledger.Notification{}, fmt.Errorf("totals of %s: %w", sub.Address, ledger.ErrTotalOverflow)
	}
	var changes []ledger.DepositChange
	switch {
	case m.w != nil:
		changes = m.w.changesFor(ds, sub.MaxConfirms, now)
	case m.initial:
		changes = initialChanges(ds, tip.Height, sub.MaxConfirms, now)
	}
	if !m.force && len(changes) == 0 && t.Confirmed == sub.LastConfirmed && t.Unconfirmed == sub.LastUnconfirmed {
		return false, ledger.Notification{}, nil
	}
	// Supersede what is still pending; keep a failing receiver's back-off
	// (a redelivery does not).
	next := now
	rows, err := tx.QueryContext(ctx, `SELECT attempts, next_attempt_at FROM notifications WHERE subscription_id = ? AND state = ?`+l.dialect.forUpdate,
		sub.ID, ledger.NotePending)
	if err != nil {
		return false, ledger.Notification{}, fmt.Errorf("supersede notifications: %w", err)
	}
	for rows.Next() {
		var attempts int
		var at int64
		if err := rows.Scan(&attempts, &at); err != nil {
			rows.Close()
			return false, ledger.Notification{}, err
		}
		if !m.dueNow && attempts > 0 && fromMicros(at).After(next) {
			next = fromMicros(at)
		}
	}
	rows.Close()
	if _, err := tx.ExecContext(ctx, `UPDATE notifications SET state = ?, updated_at = ? WHERE subscription_id = ? AND state = ?`,
		ledger.NoteSuperseded, micros(now), sub.ID, ledger.NotePending); err != nil {
		return false, ledger.Notification{}, fmt.Errorf("supersede notifications: %w", err)
	}
	var observed int64
	if m.w != nil {
		observed = micros(m.w.observed)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO notifications (subscription_id, confirmed, unconfirmed, height, body, content_type,
  state, next_attempt_at, created_at, observed_at, updated_at) VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?)`,
		sub.ID, t.Confirmed, t.Unconfirmed, t.Height, []byte{}, ledger.NotePending, micros(next), micros(now), observed, micros(now))
	if err != nil {
		return false, ledger.Notification{}, fmt.Errorf("create notification: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return false, ledger.Notification{}, err
	}
	created := fromMicros(micros(now))
	notice, err := invoiceNotice(ctx, tx, sub.ID)
	if err != nil {
		return false, ledger.Notification{}, err
	}
	body, ctype, err := l.payload(ledger.NotificationData{ID: id, Subscription: sub, Totals: t, Changes: changes, CreatedAt: created,
		Invoice: notice})
	if err != nil {
		return false, ledger.Notification{}, fmt.Errorf("build notification %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE notifications SET body = ?, content_type = ? WHERE id = ?`, body, ctype, id); err != nil {
		return false, ledger.Notification{}, fmt.Errorf("create notification: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET last_confirmed = ?, last_unconfirmed = ?, updated_at = ? WHERE id = ?`,
		t.Confirmed, t.Unconfirmed, micros(now), sub.ID); err != nil {
		return false, ledger.Notification{}, fmt.Errorf("update subscription: %w", err)
	}
	n := ledger.Notification{ID: id, SubscriptionID: sub.ID, EndpointID: sub.EndpointID, Chain: sub.Chain, Address: sub.Address,
		URL: sub.URL, Secret: sub.Secret, Confirmed: t.Confirmed, Unconfirmed: t.Unconfirmed, Height: t.Height, Body: body,
		ContentType: ctype, State: ledger.NotePending, NextAttemptAt: fromMicros(micros(next)), CreatedAt: created,
		ObservedAt: fromMicros(observed), UpdatedAt: created}
	return true, n, nil
}

// DefaultPayload is a minimal JSON body, used when no PayloadBuilder is
// given (tests of this package); ipnd itself uses the ipn package's.
func DefaultPayload(d ledger.NotificationData) ([]byte, string, error) {
	b, err := json.Marshal(map[string]string{
		"id":                 strconv.FormatInt(d.ID, 10),
		"address":            d.Subscription.Address,
		"confirmed_atomic":   strconv.FormatUint(d.Totals.Confirmed, 10),
		"unconfirmed_atomic": strconv.FormatUint(d.Totals.Unconfirmed, 10),
	})
	return b, "application/json", err
}
