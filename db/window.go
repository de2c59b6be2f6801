package db

import (
	"context"
	"fmt"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// WindowDeposits lists chain's live deposits (mempool, confirmed,
// double-spend) in the pool or above fromHeight: the ones ReconcileWindow
// orphans when seen does not name them. A windowed watcher reads them when
// the wallet's answer had entries it could not use, to pass those
// transactions' deposits on unchanged.
func (l *Ledger) WindowDeposits(ctx context.Context, c chains.Chain, fromHeight int64) ([]ledger.Deposit, error) {
	ds, err := queryDeposits(ctx, l.db, `d.chain = ? AND d.status IN (?, ?, ?) AND (d.height = 0 OR d.height > ?)`,
		string(c), ledger.StatusMempool, ledger.StatusConfirmed, ledger.StatusDoubleSpend, fromHeight)
	if err != nil {
		return nil, fmt.Errorf("%s window deposits: %w", c, err)
	}
	return ds, nil
}
