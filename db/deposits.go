package db

// The deposit rows a chain write changes: recording a payment, moving a
// deposit to another status with the reason, and reading deposits.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// errUnresolved: a payment's address is not in the ledger and the watcher
// gave no indexes to record it with.
var errUnresolved = errors.New("address is not in the ledger")

// addressID resolves a payment's address, recording it first when the
// watcher supplied its indexes (a Bitcoin gap address), and reads the
// total of its live deposits in the same query (see fits; nil when the
// SQLite sum is already beyond int64). An address that cannot be resolved
// (not recorded, or recorded with other indexes) is errUnresolved or
// ledger.ErrAddressTaken: the payment is skipped.
func (w *chainWrite) addressID(p chains.Payment) (int64, *big.Int, error) {
	addr := ledgerAddress(p.Address)
	var id int64
	var live []byte
	err := w.tx.QueryRowContext(w.ctx, `SELECT a.id, (SELECT COALESCE(SUM(d.amount), 0) FROM deposits d
  WHERE d.address_id = a.id AND d.status IN (?, ?) AND d.unlock_time < ?) FROM addresses a WHERE a.chain = ? AND a.address = ?`,
		ledger.StatusMempool, ledger.StatusConfirmed, uint64(ledger.UnlockNever), string(w.chain), addr).Scan(&id, &live)
	if isIntegerOverflow(err) {
		a, err := addressBy(w.ctx, w.tx, `chain = ? AND address = ?`, string(w.chain), addr)
		if err != nil {
			return 0, nil, fmt.Errorf("payment %s to %s: %w", p.TxID, p.Address, err)
		}
		return a.ID, nil, nil
	}
	if err == nil {
		total, ok := new(big.Int).SetString(string(live), 10)
		if !ok {
			return 0, nil, fmt.Errorf("payment %s to %s: live total %q is not an integer", p.TxID, p.Address, live)
		}
		return id, total, nil
	}
	if err = notFound(err, "address"); !errors.Is(err, ledger.ErrNotFound) {
		return 0, nil, fmt.Errorf("payment %s to %s: %w", p.TxID, p.Address, err)
	}
	if p.Watch == nil {
		return 0, nil, errUnresolved
	}
	watch := *p.Watch
	watch.Chain, watch.Address = w.chain, addr
	a, err := w.l.ensureAddress(w.ctx, w.tx, watch)
	if err != nil {
		return 0, nil, fmt.Errorf("payment %s to %s: %w", p.TxID, p.Address, err)
	}
	return a.ID, new(big.Int), nil
}

// maxStored is the largest amount, and the largest total of an address's
// live deposits, the ledger stores: SQLite's INTEGER is a signed 64-bit
// number, MySQL's BIGINT UNSIGNED (and the uint64 sums in Go) hold 2^64-1.
func (l *Ledger) maxStored() uint64 {
	if l.dialect.name == "sqlite" {
		return math.MaxInt64
	}
	return math.MaxUint64
}

// skip leaves payment p out of the write (the rest of it proceeds): it
// is logged and counted the first time this process sees it.
func (w *chainWrite) skip(p chains.Payment, reason string, err error) {
	w.l.paymentSkipped(w.chain, p, reason, err)
}

// Reasons a payment is left out of a chain write (skip).
const (
	skipAmount     = "amount_unstorable"
	skipTotal      = "total_unstorable"
	skipUnresolved = "address_unresolved"
)

// upsert records p with status. A deposit already recorded is moved to
// status when move is true or when it was orphaned (its transaction came
// back); a confirmed deposit is never demoted by a mempool sighting. It
// returns the deposit's id: 0 when p was skipped (its address cannot be
// resolved, or its amount, or the address's total with it, is more than
// the ledger stores) and no deposit of it is recorded; a skipped payment's
// recorded deposit is left as it is and its id returned.
//
// Values the columns cannot hold are never written: an unlock_time at or
// above ledger.UnlockNever is stored as UnlockNever (locked for ever
// either way), whatever the watcher passed.
func (w *chainWrite) upsert(p chains.Payment, status string, move bool) (int64, error) {
	p.UnlockTime = min(p.UnlockTime, uint64(ledger.UnlockNever))
	if p.Height < 0 {
		p.Height = 0
	}
	if p.Amount > w.l.maxStored() {
		w.skip(p, skipAmount, nil)
		return 0, nil
	}
	addrID, live, err := w.addressID(p)
	if errors.Is(err, errUnresolved) || errors.Is(err, ledger.ErrAddressTaken) || errors.Is(err, ledger.ErrIndexTaken) {
		w.skip(p, skipUnresolved, err)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	ds, err := w.deposits(`d.chain = ? AND d.txid = ? AND d.address_id = ? AND d.out_index = ?`,
		string(w.chain), p.TxID, addrID, p.OutIndex)
	if err != nil {
		return 0, err
	}
	if len(ds) > 0 {
		d := ds[0]
		if !move && d.Status != ledger.StatusOrphaned {
			return d.ID, nil
		}
		if d.Status == status && d.Height == p.Height && d.BlockHash == p.BlockHash &&
			d.Amount == p.Amount && d.UnlockTime == p.UnlockTime && d.DoubleSpend == p.DoubleSpend {
			return d.ID, nil // replay of the same block or poll
		}
	}
	if !w.fits(p, status, live, ds) {
		if len(ds) > 0 {
			return ds[0].ID, nil
		}
		return 0, nil
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

// fits reports whether recording p with status keeps its address's live
// total (live, read with the address; nil: already beyond int64) within
// what the ledger stores; when it does not, p is skipped (logged and
// counted). ds holds p's deposit if it is recorded. Only a write that
// makes the total grow can be refused: a new deposit that counts, one
// that counts again, or a larger amount.
func (w *chainWrite) fits(p chains.Payment, status string, live *big.Int, ds []ledger.Deposit) bool {
	counts := (status == ledger.StatusMempool || status == ledger.StatusConfirmed) && p.UnlockTime < ledger.UnlockNever
	if !counts {
		return true
	}
	if len(ds) > 0 && ds[0].Counts() && p.Amount <= ds[0].Amount {
		return true
	}
	if live != nil {
		total := new(big.Int).Set(live)
		if len(ds) > 0 && ds[0].Counts() {
			total.Sub(total, new(big.Int).SetUint64(ds[0].Amount))
		}
		total.Add(total, new(big.Int).SetUint64(p.Amount))
		if total.Cmp(new(big.Int).SetUint64(w.l.maxStored())) <= 0 {
			return true
		}
	}
	w.skip(p, skipTotal, nil)
	return false
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
