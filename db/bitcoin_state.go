package db

// Ledger state the Bitcoin-family watcher reads at start: whether the
// index check ran (the address counter) and the confirmed payments a
// reorganisation can still reach (the spend watch).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// AddressCounter returns chain c's allocation counter (the next index
// AllocateAddress considers) and whether the row exists: it is created by
// the first allocation or by RaiseAddressCounter (the index check's
// result), never removed.
func (l *Ledger) AddressCounter(ctx context.Context, c chains.Chain) (next int64, ok bool, err error) {
	err = l.db.QueryRowContext(ctx, `SELECT next_index FROM address_counters WHERE chain = ?`, string(c)).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s address counter: %w", c, err)
	}
	return next, true, nil
}

// ConfirmedPaymentsSince returns chain c's confirmed deposits mined at
// fromHeight or above (TxID, OutIndex, Height and BlockHash set), by
// height.
func (l *Ledger) ConfirmedPaymentsSince(ctx context.Context, c chains.Chain, fromHeight int64) ([]chains.Payment, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT txid, out_index, height, block_hash FROM deposits
  WHERE chain = ? AND status = ? AND height >= ? ORDER BY height, txid, out_index`,
		string(c), ledger.StatusConfirmed, max(fromHeight, 1))
	if err != nil {
		return nil, fmt.Errorf("read %s confirmed deposits: %w", c, err)
	}
	defer rows.Close()
	var out []chains.Payment
	for rows.Next() {
		var p chains.Payment
		if err := rows.Scan(&p.TxID, &p.OutIndex, &p.Height, &p.BlockHash); err != nil {
			return nil, fmt.Errorf("read %s confirmed deposits: %w", c, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s confirmed deposits: %w", c, err)
	}
	return out, nil
}
