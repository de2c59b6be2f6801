package db

// The deposit rows a chain write changes: recording a payment, moving a
// deposit to another status with the reason, and reading deposits.

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

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
	reason := ledger.ReasonSeen
	switch {
	case p.DoubleSpend:
		reason = ledger.ReasonDoubleSpend
	case status == ledger.StatusConfirmed:
		reason = ledger.ReasonConfirmed
	}
	if len(ds) == 0 {
		res, err := w.tx.ExecContext(w.ctx, `INSERT INTO deposits
  (chain, txid, out_index, address_id, amount, height, block_hash, status, reason, unlock_time, double_spend, first_seen, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			string(w.chain), p.TxID, p.OutIndex, addrID, p.Amount, p.Height, p.BlockHash, status, reason,
			p.UnlockTime, p.DoubleSpend, now, now)
		if err != nil {
			return 0, fmt.Errorf("record deposit %s:%d: %w", p.TxID, p.OutIndex, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return 0, err
		}
		w.remember(ledger.Deposit{ID: id, AddressID: addrID}, false, reason)
		w.touched[addrID] = true
		w.change.DepositsAdded++
		return id, nil
	}
	d := ds[0]
	if !move && d.Status != ledger.StatusOrphaned {
		return d.ID, nil
	}
	if d.Status == status && d.Height == p.Height && d.BlockHash == p.BlockHash &&
		d.Amount == p.Amount && d.UnlockTime == p.UnlockTime && d.DoubleSpend == p.DoubleSpend {
		return d.ID, nil // replay of the same block or poll
	}
	if d.Status == ledger.StatusConfirmed && (d.Height != p.Height || d.BlockHash != p.BlockHash) && !p.DoubleSpend {
		reason = ledger.ReasonReorg // moved to another block (or back to the pool)
	}
	_, err = w.tx.ExecContext(w.ctx, `UPDATE deposits SET amount = ?, height = ?, block_hash = ?, status = ?, reason = ?,
  unlock_time = ?, double_spend = ?, updated_at = ? WHERE id = ?`,
		p.Amount, p.Height, p.BlockHash, status, reason, p.UnlockTime, p.DoubleSpend, now, d.ID)
	if err != nil {
		return 0, fmt.Errorf("update deposit %s:%d: %w", p.TxID, p.OutIndex, err)
	}
	w.remember(d, true, reason)
	w.touched[addrID] = true
	w.change.DepositsUpdated++
	return d.ID, nil
}

// setStatus moves deposit d to status at (height, hash), giving reason (a
// ledger.Reason constant) for the move.
func (w *chainWrite) setStatus(d ledger.Deposit, status string, height int64, hash, reason string) error {
	_, err := w.tx.ExecContext(w.ctx, `UPDATE deposits SET status = ?, height = ?, block_hash = ?, reason = ?, updated_at = ? WHERE id = ?`,
		status, height, hash, reason, micros(w.l.now()), d.ID)
	if err != nil {
		return fmt.Errorf("update deposit %s: %w", d.TxID, err)
	}
	w.remember(d, true, reason)
	w.touched[d.AddressID] = true
	if status == ledger.StatusOrphaned {
		w.change.DepositsRemoved++
	} else {
		w.change.DepositsUpdated++
	}
	return nil
}

const depositCols = `d.id, d.chain, d.txid, d.out_index, d.address_id, a.address, d.amount, d.height, d.block_hash,
  d.status, d.reason, d.unlock_time, d.double_spend, d.first_seen, d.updated_at`

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
			&d.BlockHash, &d.Status, &d.Reason, &d.UnlockTime, &d.DoubleSpend, &first, &upd); err != nil {
			return nil, fmt.Errorf("read deposits: %w", err)
		}
		d.Chain, d.FirstSeen, d.UpdatedAt = chains.Chain(chain), fromMicros(first), fromMicros(upd)
		out = append(out, d)
	}
	return out, rows.Err()
}
