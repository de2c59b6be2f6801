package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Tip returns the last processed block of chain; ok is false before the
// chain was ever started.
func (l *Ledger) Tip(ctx context.Context, c chains.Chain) (chains.Block, bool, error) {
	return tipOf(ctx, l.db, c)
}

type queryer interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}

func tipOf(ctx context.Context, q queryer, c chains.Chain) (chains.Block, bool, error) {
	var b chains.Block
	err := q.QueryRowContext(ctx, `SELECT height, hash FROM chain_state WHERE chain = ?`, string(c)).Scan(&b.Height, &b.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return chains.Block{}, false, nil
	}
	if err != nil {
		return chains.Block{}, false, fmt.Errorf("read %s tip: %w", c, err)
	}
	return b, true, nil
}

// RecentBlocks returns up to n processed blocks of chain, newest first.
func (l *Ledger) RecentBlocks(ctx context.Context, c chains.Chain, n int) ([]chains.Block, error) {
	rows, err := l.db.QueryContext(ctx,
		`SELECT height, hash FROM chain_blocks WHERE chain = ? ORDER BY height DESC LIMIT ?`, string(c), n)
	if err != nil {
		return nil, fmt.Errorf("read %s blocks: %w", c, err)
	}
	defer rows.Close()
	var out []chains.Block
	for rows.Next() {
		var b chains.Block
		if err := rows.Scan(&b.Height, &b.Hash); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// SetStart records b as the processed tip of a chain that has none yet, so
// scanning begins at b.Height+1. It does nothing if the chain has a tip.
func (l *Ledger) SetStart(ctx context.Context, c chains.Chain, b chains.Block) error {
	return l.ExecTx(ctx, func(tx *sql.Tx) error {
		if err := l.checkFence(ctx, tx, c); err != nil {
			return err
		}
		if _, ok, err := tipOf(ctx, tx, c); err != nil || ok {
			return err
		}
		return l.setTip(ctx, tx, c, b)
	})
}

func (l *Ledger) setTip(ctx context.Context, tx *sql.Tx, c chains.Chain, b chains.Block) error {
	now := micros(l.now())
	res, err := tx.ExecContext(ctx, `UPDATE chain_state SET height = ?, hash = ?, updated_at = ? WHERE chain = ?`,
		b.Height, b.Hash, now, string(c))
	if err != nil {
		return fmt.Errorf("set %s tip: %w", c, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// MySQL reports 0 affected rows when nothing changed; insert-ignore
		// covers both "missing" and "unchanged".
		if _, err := tx.ExecContext(ctx, l.dialect.insertIgnore+` INTO chain_state (chain, height, hash, updated_at) VALUES (?, ?, ?, ?)`,
			string(c), b.Height, b.Hash, now); err != nil {
			return fmt.Errorf("set %s tip: %w", c, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM chain_blocks WHERE chain = ? AND (height >= ? OR height < ?)`,
		string(c), b.Height, b.Height-l.keep); err != nil {
		return fmt.Errorf("record %s block: %w", c, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO chain_blocks (chain, height, hash) VALUES (?, ?, ?)`,
		string(c), b.Height, b.Hash); err != nil {
		return fmt.Errorf("record %s block: %w", c, err)
	}
	return nil
}

// MempoolTxIDs lists the transactions of chain's deposits in mempool status.
func (l *Ledger) MempoolTxIDs(ctx context.Context, c chains.Chain) ([]string, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT DISTINCT txid FROM deposits WHERE chain = ? AND status = ?`, string(c), ledger.StatusMempool)
	if err != nil {
		return nil, fmt.Errorf("read %s mempool deposits: %w", c, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// chainWrite carries one chain transaction's bookkeeping.
type chainWrite struct {
	l       *Ledger
	ctx     context.Context
	tx      *sql.Tx
	chain   chains.Chain
	touched map[int64]bool // address ids whose deposits changed
	// before holds each changed deposit as it was before this write, by
	// deposit id; reasons the latest downward reason given for it.
	before  map[int64]depositBefore
	reasons map[int64]string
	// oldTip and newTip are the chain's tip before and after the write.
	oldTip, newTip chains.Block
	// observed is when the write began: the observation time of the chain
	// event (ledger clock).
	observed time.Time
	change   chains.Change
	made     []time.Duration // per notification made: observed → created
	// forced holds the subscriptions notified even when their totals did
	// not move: their invoice changed status.
	forced map[int64]bool
}

// depositBefore is a deposit as it was before the write changed it.
type depositBefore struct {
	addressID int64
	existed   bool
	d         ledger.Deposit
}

func (l *Ledger) chainTx(ctx context.Context, c chains.Chain, fn func(w *chainWrite, oldTip chains.Block, hadTip bool) (newTip chains.Block, err error)) (chains.Change, error) {
	var change chains.Change
	var made []time.Duration
	observed := l.now()
	err := l.ExecTx(ctx, func(tx *sql.Tx) error {
		if err := l.checkFence(ctx, tx, c); err != nil {
			return err
		}
		w := &chainWrite{l: l, ctx: ctx, tx: tx, chain: c, touched: map[int64]bool{},
			before: map[int64]depositBefore{}, reasons: map[int64]string{}, observed: observed, forced: map[int64]bool{}}
		oldTip, hadTip, err := tipOf(ctx, tx, c)
		if err != nil {
			return err
		}
		w.oldTip = oldTip
		newTip, err := fn(w, oldTip, hadTip)
		if err != nil {
			return err
		}
		w.newTip = newTip
		if err := w.invoices(); err != nil {
			return err
		}
		if err := w.notify(); err != nil {
			return err
		}
		change, made = w.change, w.made
		return nil
	})
	if err == nil && l.observer != nil && len(made) > 0 {
		l.observer.NotificationsCreated(c, made)
	}
	return change, err
}

// remember records d as it was before this write first changed it, and
// the downward reason the write gives (the latest explicit one wins).
func (w *chainWrite) remember(d ledger.Deposit, existed bool, reason string) {
	if _, ok := w.before[d.ID]; !ok {
		w.before[d.ID] = depositBefore{addressID: d.AddressID, existed: existed, d: d}
	}
	if reason != "" && reason != ledger.ReasonSeen && reason != ledger.ReasonConfirmed {
		w.reasons[d.ID] = reason
	}
}

// goneReasons maps each gone transaction to its reason (dropped when
// empty or unknown).
func goneReasons(gone []chains.Gone) map[string]string {
	out := make(map[string]string, len(gone))
	for _, g := range gone {
		out[g.TxID] = ledger.GoneReason(g.Reason, ledger.ReasonDropped)
	}
	return out
}

// ReconcileWindow is the Monero-style write: seen is everything the wallet
// reports in the pool and above fromHeight. Each seen payment is recorded
// (Height>0: confirmed at Height; 0: mempool; DoubleSpend: flagged); every
// live deposit of the chain in the mempool or above fromHeight that is not in
// seen is orphaned (dropped from the pool, or reorganised out of a block);
// tip becomes the chain tip. A watcher that could not read some of what it
// saw passes those transactions' recorded deposits on in seen, unchanged.
func (l *Ledger) ReconcileWindow(ctx context.Context, c chains.Chain, tip chains.Block, fromHeight int64, seen []chains.Payment) (chains.Change, error) {
	return l.chainTx(ctx, c, func(w *chainWrite, _ chains.Block, _ bool) (chains.Block, error) {
		seenIDs := map[int64]bool{}
		for _, p := range seen {
			status := ledger.StatusMempool
			if p.Height > 0 {
				status = ledger.StatusConfirmed
			}
			if p.DoubleSpend {
				status = ledger.StatusDoubleSpend
			}
			id, err := w.upsert(p, status, true)
			if err != nil {
				return chains.Block{}, err
			}
			seenIDs[id] = true
		}
		live, err := w.deposits(`d.chain = ? AND d.status IN (?, ?, ?) AND (d.height = 0 OR d.height > ?)`,
			string(c), ledger.StatusMempool, ledger.StatusConfirmed, ledger.StatusDoubleSpend, fromHeight)
		if err != nil {
			return chains.Block{}, err
		}
		for _, d := range live {
			if seenIDs[d.ID] {
				continue
			}
			why := ledger.ReasonDropped
			if d.Status == ledger.StatusConfirmed || d.Height > 0 {
				why = ledger.ReasonReorg
			}
			if err := w.setStatus(d, ledger.StatusOrphaned, d.Height, d.BlockHash, why); err != nil {
				return chains.Block{}, err
			}
		}
		return tip, l.setTip(w.ctx, w.tx, c, tip)
	})
}
