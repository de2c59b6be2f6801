package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

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
	change  chains.Change
}

func (l *Ledger) chainTx(ctx context.Context, c chains.Chain, fn func(w *chainWrite, oldTip chains.Block, hadTip bool) (newTip chains.Block, err error)) (chains.Change, error) {
	var change chains.Change
	err := l.ExecTx(ctx, func(tx *sql.Tx) error {
		w := &chainWrite{l: l, ctx: ctx, tx: tx, chain: c, touched: map[int64]bool{}}
		oldTip, hadTip, err := tipOf(ctx, tx, c)
		if err != nil {
			return err
		}
		newTip, err := fn(w, oldTip, hadTip)
		if err != nil {
			return err
		}
		if err := w.notify(oldTip.Height, newTip.Height); err != nil {
			return err
		}
		change = w.change
		return nil
	})
	return change, err
}

// ApplyBlock records block b, which must extend the stored tip, with the
// payments found in it, all in one transaction: payments become confirmed at
// b (a mempool deposit of the same output is promoted), b becomes the tip,
// and every subscription whose totals changed gets a notification.
func (l *Ledger) ApplyBlock(ctx context.Context, c chains.Chain, b chains.Block, payments []chains.Payment) (chains.Change, error) {
	return l.chainTx(ctx, c, func(w *chainWrite, tip chains.Block, hadTip bool) (chains.Block, error) {
		if hadTip && b.Height != tip.Height+1 {
			return chains.Block{}, fmt.Errorf("%w: %s block %d, tip %d", ledger.ErrNotContiguous, c, b.Height, tip.Height)
		}
		for _, p := range payments {
			p.Height, p.BlockHash = b.Height, b.Hash
			if _, err := w.upsert(p, ledger.StatusConfirmed, true); err != nil {
				return chains.Block{}, err
			}
		}
		return b, l.setTip(w.ctx, w.tx, c, b)
	})
}

// RevertBlock disconnects the stored tip b (a reorg): its deposits go back to
// the mempool when their transaction is in stillInMempool, else they are
// orphaned; parent becomes the tip.
func (l *Ledger) RevertBlock(ctx context.Context, c chains.Chain, b, parent chains.Block, stillInMempool []string) (chains.Change, error) {
	keep := map[string]bool{}
	for _, id := range stillInMempool {
		keep[id] = true
	}
	return l.chainTx(ctx, c, func(w *chainWrite, tip chains.Block, _ bool) (chains.Block, error) {
		if tip != b {
			return chains.Block{}, fmt.Errorf("revert %s block %d %s: it is not the tip (%d %s)", c, b.Height, b.Hash, tip.Height, tip.Hash)
		}
		if parent.Height != b.Height-1 {
			return chains.Block{}, fmt.Errorf("revert %s block %d: parent height %d", c, b.Height, parent.Height)
		}
		ds, err := w.deposits(`d.chain = ? AND d.height = ? AND d.block_hash = ? AND d.status IN (?, ?)`,
			string(c), b.Height, b.Hash, ledger.StatusConfirmed, ledger.StatusDoubleSpend)
		if err != nil {
			return chains.Block{}, err
		}
		for _, d := range ds {
			status := ledger.StatusOrphaned
			if keep[d.TxID] {
				status = ledger.StatusMempool
			}
			if err := w.setStatus(d, status, 0, ""); err != nil {
				return chains.Block{}, err
			}
		}
		return parent, l.setTip(w.ctx, w.tx, c, parent)
	})
}

// ApplyMempool records new unconfirmed payments and orphans the deposits in
// mempool status whose transaction left the mempool without being mined.
func (l *Ledger) ApplyMempool(ctx context.Context, c chains.Chain, added []chains.Payment, gone []string) (chains.Change, error) {
	return l.chainTx(ctx, c, func(w *chainWrite, tip chains.Block, _ bool) (chains.Block, error) {
		for _, p := range added {
			p.Height, p.BlockHash = 0, ""
			if _, err := w.upsert(p, ledger.StatusMempool, false); err != nil {
				return chains.Block{}, err
			}
		}
		for start := 0; start < len(gone); start += 500 {
			chunk := gone[start:min(start+500, len(gone))]
			args := []any{string(c), ledger.StatusMempool}
			for _, id := range chunk {
				args = append(args, id)
			}
			ds, err := w.deposits(`d.chain = ? AND d.status = ? AND d.txid IN (`+placeholders(len(chunk))+`)`, args...)
			if err != nil {
				return chains.Block{}, err
			}
			for _, d := range ds {
				if err := w.setStatus(d, ledger.StatusOrphaned, 0, ""); err != nil {
					return chains.Block{}, err
				}
			}
		}
		return tip, nil
	})
}

// ReconcileWindow is the Monero-style write: seen is everything the wallet
// reports in the pool and above fromHeight. Each seen payment is recorded
// (Height>0: confirmed at Height; 0: mempool; DoubleSpend: flagged); every
// live deposit of the chain in the mempool or above fromHeight that is not in
// seen is orphaned; tip becomes the chain tip.
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
			if !seenIDs[d.ID] {
				if err := w.setStatus(d, ledger.StatusOrphaned, d.Height, d.BlockHash); err != nil {
					return chains.Block{}, err
				}
			}
		}
		return tip, l.setTip(w.ctx, w.tx, c, tip)
	})
}

// addressID resolves a payment's address, recording it first when the
// watcher supplied its indexes (a Bitcoin gap address).
func (w *chainWrite) addressID(p chains.Payment) (int64, error) {
	a, err := addressBy(w.ctx, w.tx, `chain = ? AND address = ?`, string(w.chain), p.Address)
	if err == nil {
		return a.ID, nil
	}
	if !errors.Is(err, ledger.ErrNotFound) || p.Watch == nil {
		return 0, fmt.Errorf("payment %s to %s: %w", p.TxID, p.Address, err)
	}
	watch := *p.Watch
	watch.Chain, watch.Address = w.chain, p.Address
	a, err = w.l.ensureAddress(w.ctx, w.tx, watch)
	if err != nil {
		return 0, err
	}
	return a.ID, nil
}

// upsert records p with status. A deposit already recorded is moved to
// status when move is true or when it was orphaned (its transaction came
// back); a confirmed deposit is never demoted by a mempool sighting. It
// returns the deposit's id.
func (w *chainWrite) upsert(p chains.Payment, status string, move bool) (int64, error) {
	if w.l.dialect.name == "sqlite" && p.Amount > math.MaxInt64 {
		return 0, fmt.Errorf("payment %s: amount %d exceeds what the SQLite ledger can hold; use MySQL", p.TxID, p.Amount)
	}
	addrID, err := w.addressID(p)
	if err != nil {
		return 0, err
	}
	ds, err := w.deposits(`d.chain = ? AND d.txid = ? AND d.address_id = ? AND d.out_index = ?`,
		string(w.chain), p.TxID, addrID, p.OutIndex)
	if err != nil {
		return 0, err
	}
	now := micros(w.l.now())
	if len(ds) == 0 {
		res, err := w.tx.ExecContext(w.ctx, `INSERT INTO deposits
  (chain, txid, out_index, address_id, amount, height, block_hash, status, unlock_time, double_spend, first_seen, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			string(w.chain), p.TxID, p.OutIndex, addrID, p.Amount, p.Height, p.BlockHash, status,
			p.UnlockTime, p.DoubleSpend, now, now)
		if err != nil {
			return 0, fmt.Errorf("record deposit %s:%d: %w", p.TxID, p.OutIndex, err)
		}
		w.touched[addrID] = true
		w.change.DepositsAdded++
		return res.LastInsertId()
	}
	d := ds[0]
	if !move && d.Status != ledger.StatusOrphaned {
		return d.ID, nil
	}
	if d.Status == status && d.Height == p.Height && d.BlockHash == p.BlockHash &&
		d.Amount == p.Amount && d.UnlockTime == p.UnlockTime && d.DoubleSpend == p.DoubleSpend {
		return d.ID, nil // replay of the same block or poll
	}
	_, err = w.tx.ExecContext(w.ctx, `UPDATE deposits SET amount = ?, height = ?, block_hash = ?, status = ?,
  unlock_time = ?, double_spend = ?, updated_at = ? WHERE id = ?`,
		p.Amount, p.Height, p.BlockHash, status, p.UnlockTime, p.DoubleSpend, now, d.ID)
	if err != nil {
		return 0, fmt.Errorf("update deposit %s:%d: %w", p.TxID, p.OutIndex, err)
	}
	w.touched[addrID] = true
	w.change.DepositsUpdated++
	return d.ID, nil
}

func (w *chainWrite) setStatus(d ledger.Deposit, status string, height int64, hash string) error {
	_, err := w.tx.ExecContext(w.ctx, `UPDATE deposits SET status = ?, height = ?, block_hash = ?, updated_at = ? WHERE id = ?`,
		status, height, hash, micros(w.l.now()), d.ID)
	if err != nil {
		return fmt.Errorf("update deposit %s: %w", d.TxID, err)
	}
	w.touched[d.AddressID] = true
	if status == ledger.StatusOrphaned {
		w.change.DepositsRemoved++
	} else {
		w.change.DepositsUpdated++
	}
	return nil
}

const depositCols = `d.id, d.chain, d.txid, d.out_index, d.address_id, a.address, d.amount, d.height, d.block_hash,
  d.status, d.unlock_time, d.double_spend, d.first_seen, d.updated_at`

func (w *chainWrite) deposits(where string, args ...any) ([]ledger.Deposit, error) {
	return queryDeposits(w.ctx, w.tx, where, args...)
}

func queryDeposits(ctx context.Context, q queryer, where string, args ...any) ([]ledger.Deposit, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+depositCols+` FROM deposits d JOIN addresses a ON a.id = d.address_id WHERE `+where+` ORDER BY d.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read deposits: %w", err)
	}
	defer rows.Close()
	var out []ledger.Deposit
	for rows.Next() {
		var d ledger.Deposit
		var chain string
		var first, upd int64
		if err := rows.Scan(&d.ID, &chain, &d.TxID, &d.OutIndex, &d.AddressID, &d.Address, &d.Amount, &d.Height,
			&d.BlockHash, &d.Status, &d.UnlockTime, &d.DoubleSpend, &first, &upd); err != nil {
			return nil, fmt.Errorf("read deposits: %w", err)
		}
		d.Chain, d.FirstSeen, d.UpdatedAt = chains.Chain(chain), fromMicros(first), fromMicros(upd)
		out = append(out, d)
	}
	return out, rows.Err()
}
