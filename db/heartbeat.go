package db

import (
	"context"
	"fmt"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Beat records the sync role's heartbeat of chain st.Chain: who follows it
// and how it does, at the ledger's clock. The process holding the chain's
// sync lock writes it every few seconds; every process's readiness check
// and chain metrics read it (Heartbeats).
func (l *Ledger) Beat(ctx context.Context, owner string, st chains.Status) error {
	if !st.Chain.Valid() {
		return fmt.Errorf("heartbeat: unknown chain %q", st.Chain)
	}
	now := micros(l.now())
	res, err := l.db.ExecContext(ctx, `UPDATE sync_heartbeats SET owner = ?, state = ?, height = ?, node_height = ?, feed = ?, error = ?,
  beat_at = ? WHERE chain = ?`, truncate(owner, 64), string(st.State), st.Height, st.NodeHeight, truncate(st.Feed, 64),
		truncate(st.Error, 1000), now, string(st.Chain))
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			_, err = l.db.ExecContext(ctx, l.dialect.insertIgnore+` INTO sync_heartbeats (chain, owner, state, height, node_height, feed,
  error, beat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, string(st.Chain), truncate(owner, 64), string(st.State), st.Height,
				st.NodeHeight, truncate(st.Feed, 64), truncate(st.Error, 1000), now)
		}
	}
	if err != nil {
		return fmt.Errorf("heartbeat %s: %w", st.Chain, err)
	}
	return nil
}

// Heartbeats returns the last heartbeat of every chain that has one, with
// its age on the ledger's clock.
func (l *Ledger) Heartbeats(ctx context.Context) (map[chains.Chain]ledger.Heartbeat, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT chain, owner, state, height, node_height, feed, error, beat_at FROM sync_heartbeats`)
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	defer rows.Close()
	now := l.now()
	out := map[chains.Chain]ledger.Heartbeat{}
	for rows.Next() {
		var h ledger.Heartbeat
		var at int64
		if err := rows.Scan(&h.Chain, &h.Owner, &h.State, &h.Height, &h.NodeHeight, &h.Feed, &h.Error, &at); err != nil {
			return nil, fmt.Errorf("read heartbeats: %w", err)
		}
		h.BeatAt = fromMicros(at)
		h.Age = now.Sub(h.BeatAt)
		out[chains.Chain(h.Chain)] = h
	}
	return out, rows.Err()
}
