package db

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// balanceQuery reads an address, its chain's tip and every deposit of the
// address in one statement (one round trip, one consistent snapshot): one
// row per deposit, or a single row with NULL deposit columns when the
// address has none; no row when the address is not watched. It uses the
// unique key (chain, address), chain_state's primary key and the
// deposits (address_id, status) index. There is no ORDER BY: that index
// yields rows by (status, id), so MySQL would sort them in a temporary
// table on every call; Balance sorts the few rows by id itself.
const balanceQuery = `SELECT a.address, a.label, COALESCE(cs.height, 0), d.id, d.chain, d.txid, d.out_index, d.address_id, d.amount,
  d.height, d.block_hash, d.status, d.reason, d.unlock_time, d.double_spend, d.first_seen, d.updated_at
  FROM addresses a
  LEFT JOIN chain_state cs ON cs.chain = a.chain
  LEFT JOIN deposits d ON d.address_id = a.id
  WHERE a.chain = ? AND a.address = ?`

// Balance returns an address's totals at its chain's tip with every deposit
// ever recorded for it (orphaned and flagged ones included, for display),
// oldest first. An address that is not watched is ErrNotFound.
func (l *Ledger) Balance(ctx context.Context, c chains.Chain, addr string, maxConfirms int) (ledger.Totals, []ledger.Deposit, error) {
	b, err := l.AddressBalance(ctx, c, addr, maxConfirms)
	return b.Totals, b.Deposits, err
}

// AddressBalance is Balance with the address's label, from the same
// statement.
func (l *Ledger) AddressBalance(ctx context.Context, c chains.Chain, addr string, maxConfirms int) (ledger.AddressBalance, error) {
	fail := func(err error) (ledger.AddressBalance, error) { return ledger.AddressBalance{}, err }
	stmt, err := l.balanceStmt(ctx)
	if err != nil {
		return fail(fmt.Errorf("read balance: %w", err))
	}
	rows, err := stmt.QueryContext(ctx, string(c), ledgerAddress(addr))
	if err != nil {
		return fail(fmt.Errorf("read balance: %w", err))
	}
	defer rows.Close()
	var (
		tip    int64
		stored string // the address as recorded
		label  string
		found  bool
		ds     []ledger.Deposit
	)
	for rows.Next() {
		found = true
		var (
			id, aid, height, first, upd sql.NullInt64
			out                         sql.Null[uint32]
			amount, unlock              sql.Null[uint64]
			chain, txid, hash, status   sql.NullString
			reason                      sql.NullString
			doubleSpend                 sql.NullBool
		)
		if err := rows.Scan(&stored, &label, &tip, &id, &chain, &txid, &out, &aid, &amount, &height, &hash, &status, &reason,
			&unlock, &doubleSpend, &first, &upd); err != nil {
			return fail(fmt.Errorf("read balance: %w", err))
		}
		if !id.Valid { // the address has no deposit
			continue
		}
		ds = append(ds, ledger.Deposit{
			ID: id.Int64, Chain: chains.Chain(chain.String), TxID: txid.String, OutIndex: out.V,
			AddressID: aid.Int64, Address: stored, Amount: amount.V, Height: height.Int64,
			BlockHash: hash.String, Status: status.String, Reason: reason.String, UnlockTime: unlock.V, DoubleSpend: doubleSpend.Bool,
			FirstSeen: fromMicros(first.Int64), UpdatedAt: fromMicros(upd.Int64),
		})
	}
	if err := rows.Err(); err != nil {
		return fail(fmt.Errorf("read balance: %w", err))
	}
	if !found {
		return fail(fmt.Errorf("address: %w", ledger.ErrNotFound))
	}
	slices.SortFunc(ds, func(x, y ledger.Deposit) int { return cmp.Compare(x.ID, y.ID) })
	t, err := ledger.SumTotals(ds, tip, maxConfirms, l.now())
	return ledger.AddressBalance{Label: label, Totals: t, Deposits: ds}, err
}

// balanceStmt is balanceQuery prepared once: MySQL then parses it once per
// connection and answers in the binary protocol (the busiest read of the
// API; parsing was a fifth of mysqld's time per /balance).
func (l *Ledger) balanceStmt(ctx context.Context) (*sql.Stmt, error) {
	l.stmtMu.Lock()
	defer l.stmtMu.Unlock()
	if l.balance != nil {
		return l.balance, nil
	}
	st, err := l.db.PrepareContext(ctx, balanceQuery)
	if err != nil {
		return nil, err
	}
	l.balance = st
	return st, nil
}
