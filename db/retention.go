package db

import (
	"context"
	"fmt"
	"time"

	"github.com/ipnd/ipnd/ledger"
)

// PruneCursor is where a pass of Prune calls has got to among the old
// delivered notifications (the newest of each subscription is kept, so
// those are stepped over rather than looked at again). The zero value
// starts a pass.
type PruneCursor struct {
	createdAt, id int64
}

// Prune deletes one small batch (at most batch rows of each kind) of what
// retention ends: superseded notifications created before cutoff,
// delivered ones created before cutoff that are not their subscription's
// newest, and delivery attempts made before cutoff. Pending and failed
// notifications are kept whatever their age, and so is a notification
// leased to a worker (superseded while its attempt is in flight) with its
// attempts: the worker records its outcome when the attempt ends. Every query is a range of an
// index: (state, created_at) for notifications, (attempted_at) for
// attempts. Call it with the same cursor until it reports nothing deleted
// and the cursor did not move; a fresh cursor starts a new pass.
func (l *Ledger) Prune(ctx context.Context, cutoff time.Time, batch int, cur *PruneCursor) (ledger.Pruned, error) {
	if batch <= 0 {
		batch = 500
	}
	if cur == nil {
		cur = &PruneCursor{}
	}
	var out ledger.Pruned
	before, now := micros(cutoff), micros(l.now())
	del, err := l.ids(ctx, `SELECT id FROM notifications WHERE state = ? AND created_at < ? AND lease_until < ? ORDER BY created_at LIMIT ?`,
		ledger.NoteSuperseded, before, now, batch)
	if err != nil {
		return out, err
	}
	// Old delivered notifications, from the cursor on; those that are
	// their subscription's newest are stepped over.
	rows, err := l.db.QueryContext(ctx, `SELECT id, subscription_id, created_at FROM notifications
  WHERE state = ? AND created_at < ? AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?`,
		ledger.NoteDelivered, before, cur.createdAt, cur.createdAt, cur.id, batch)
	if err != nil {
		return out, fmt.Errorf("prune: %w", err)
	}
	type cand struct{ id, sub int64 }
	var cands []cand
	var subs []any
	seen := map[int64]bool{}
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.id, &c.sub, &cur.createdAt); err != nil {
			rows.Close()
			return out, fmt.Errorf("prune: %w", err)
		}
		cur.id = c.id
		cands = append(cands, c)
		if !seen[c.sub] {
			seen[c.sub] = true
			subs = append(subs, c.sub)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("prune: %w", err)
	}
	if len(cands) > 0 {
		newest := map[int64]int64{}
		rows, err := l.db.QueryContext(ctx, `SELECT subscription_id, MAX(id) FROM notifications WHERE subscription_id IN (`+
			placeholders(len(subs))+`) GROUP BY subscription_id`, subs...)
		if err != nil {
			return out, fmt.Errorf("prune: %w", err)
		}
		for rows.Next() {
			var sub, id int64
			if err := rows.Scan(&sub, &id); err != nil {
				rows.Close()
				return out, fmt.Errorf("prune: %w", err)
			}
			newest[sub] = id
		}
		rows.Close()
		for _, c := range cands {
			if c.id < newest[c.sub] {
				del = append(del, c.id)
			}
		}
	}
	if len(del) > 0 {
		// The lease is checked again in the DELETE: a claim may have come
		// in between.
		res, err := l.db.ExecContext(ctx, `DELETE FROM notifications WHERE id IN (`+placeholders(len(del))+`) AND state IN (?, ?)
  AND lease_until < ?`, append(del, ledger.NoteSuperseded, ledger.NoteDelivered, now)...)
		if err != nil {
			return out, fmt.Errorf("prune notifications: %w", err)
		}
		out.Notifications, _ = res.RowsAffected()
	}
	del, err = l.ids(ctx, `SELECT a.id FROM delivery_attempts a WHERE a.attempted_at < ?
  AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = a.notification_id AND n.lease_until >= ?)
  ORDER BY a.attempted_at LIMIT ?`, before, now, batch)
	if err != nil {
		return out, err
	}
	if len(del) > 0 {
		res, err := l.db.ExecContext(ctx, `DELETE FROM delivery_attempts WHERE id IN (`+placeholders(len(del))+`)`, del...)
		if err != nil {
			return out, fmt.Errorf("prune delivery attempts: %w", err)
		}
		out.Attempts, _ = res.RowsAffected()
	}
	return out, nil
}

// PruneOlderThan runs Prune passes until nothing older than cutoff is left
// to delete, pausing between batches so that other work gets the
// database; it returns the totals.
func (l *Ledger) PruneOlderThan(ctx context.Context, cutoff time.Time, batch int, pause time.Duration) (ledger.Pruned, error) {
	var total ledger.Pruned
	var cur PruneCursor
	for {
		last := cur
		p, err := l.Prune(ctx, cutoff, batch, &cur)
		total.Notifications += p.Notifications
		total.Attempts += p.Attempts
		if err != nil {
			return total, err
		}
		if p.Notifications == 0 && p.Attempts == 0 && cur == last {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(pause):
		}
	}
}

func (l *Ledger) ids(ctx context.Context, query string, args ...any) ([]any, error) {
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	defer rows.Close()
	var out []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("prune: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
