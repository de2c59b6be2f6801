package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

const addressCols = `id, chain, address, derivation_index, account_index, subaddress_index, label, created_at`

func scanAddress(sc interface{ Scan(...any) error }) (chains.Address, error) {
	var a chains.Address
	var chain string
	var der, acc, sub sql.NullInt64
	var created int64
	if err := sc.Scan(&a.ID, &chain, &a.Address, &der, &acc, &sub, &a.Label, &created); err != nil {
		return chains.Address{}, err
	}
	a.Chain, a.CreatedAt = chains.Chain(chain), fromMicros(created)
	a.DerivationIndex, a.AccountIndex, a.SubaddressIndex = idx(der), idx(acc), idx(sub)
	return a, nil
}

func idx(n sql.NullInt64) *uint32 {
	if !n.Valid {
		return nil
	}
	v := uint32(n.Int64)
	return &v
}

func nullIdx(p *uint32) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

func addressBy(ctx context.Context, q queryer, where string, args ...any) (chains.Address, error) {
	a, err := scanAddress(q.QueryRowContext(ctx, `SELECT `+addressCols+` FROM addresses WHERE `+where, args...))
	if err != nil {
		return chains.Address{}, notFound(err, "address")
	}
	return a, nil
}

// AddressByString finds a watched address.
func (l *Ledger) AddressByString(ctx context.Context, c chains.Chain, addr string) (chains.Address, error) {
	return addressBy(ctx, l.db, `chain = ? AND address = ?`, string(c), ledgerAddress(addr))
}

// AddressByIndex finds the Bitcoin address allocated at a derivation index.
func (l *Ledger) AddressByIndex(ctx context.Context, c chains.Chain, index uint32) (chains.Address, error) {
	return addressBy(ctx, l.db, `chain = ? AND derivation_index = ?`, string(c), int64(index))
}

// Addresses lists every watched address of a chain, oldest first.
func (l *Ledger) Addresses(ctx context.Context, c chains.Chain) ([]chains.Address, error) {
	return l.queryAddresses(ctx, `chain = ?`, string(c))
}

func (l *Ledger) queryAddresses(ctx context.Context, where string, args ...any) ([]chains.Address, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT `+addressCols+` FROM addresses WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	defer rows.Close()
	var out []chains.Address
	for rows.Next() {
		a, err := scanAddress(rows)
		if err != nil {
			return nil, fmt.Errorf("list addresses: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// LastAddressID is the id of the newest recorded address of any chain (0
// if none): a watcher that sees it change reloads its watch set, so an
// address recorded by another process is watched at its next poll.
func (l *Ledger) LastAddressID(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT MAX(id) FROM addresses`).Scan(&v); err != nil {
		return 0, fmt.Errorf("newest address: %w", err)
	}
	return v.Int64, nil
}

// AddressesAfter lists the addresses of every chain recorded after the one
// with id afterID, oldest first: how a watcher follows new addresses
// without reloading all of them.
func (l *Ledger) AddressesAfter(ctx context.Context, afterID int64) ([]chains.Address, error) {
	return l.queryAddresses(ctx, `id > ?`, afterID)
}

// HighestDerivationIndex is the highest derivation index allocated on
// chain c (Bitcoin); -1 if none.
func (l *Ledger) HighestDerivationIndex(ctx context.Context, c chains.Chain) (int64, error) {
	return l.highestIndex(ctx, c, `SELECT MAX(derivation_index) FROM addresses WHERE chain = ?`, string(c))
}

// HighestSubaddressIndex is the highest subaddress index recorded in one
// wallet account on chain c (Monero); -1 if none.
func (l *Ledger) HighestSubaddressIndex(ctx context.Context, c chains.Chain, account uint32) (int64, error) {
	return l.highestIndex(ctx, c, `SELECT MAX(subaddress_index) FROM addresses WHERE chain = ? AND account_index = ?`,
		string(c), int64(account))
}

func (l *Ledger) highestIndex(ctx context.Context, c chains.Chain, query string, args ...any) (int64, error) {
	var v sql.NullInt64
	if err := l.db.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return 0, fmt.Errorf("highest %s index: %w", c, err)
	}
	if !v.Valid {
		return -1, nil
	}
	return v.Int64, nil
}

// EnsureAddress records a (if new) and returns the stored row. Recording the
// same address again is a no-op; an address recorded without indexes gets
// them filled in. It fails with ErrIndexTaken when the indexes belong to
// another address, and ErrAddressTaken when the address has other indexes.
func (l *Ledger) EnsureAddress(ctx context.Context, a chains.Address) (chains.Address, error) {
	var out chains.Address
	var err error
	for try := 0; try < 3; try++ {
		err = l.ExecTx(ctx, func(tx *sql.Tx) error {
			var err error
			out, err = l.ensureAddress(ctx, tx, a)
			return err
		})
		if !errors.Is(err, errInsertRace) {
			break
		}
	}
	return out, err
}

// errInsertRace: another process inserted the same address concurrently;
// a second try sees its row.
var errInsertRace = errors.New("concurrent insert")

func (l *Ledger) ensureAddress(ctx context.Context, tx *sql.Tx, a chains.Address) (chains.Address, error) {
	if !a.Chain.Valid() || a.Address == "" {
		return chains.Address{}, fmt.Errorf("record address: chain and address are required")
	}
	a.Address = ledgerAddress(a.Address)
	existing, err := addressBy(ctx, tx, `chain = ? AND address = ?`+l.dialect.forUpdate, string(a.Chain), a.Address)
	switch {
	case err == nil:
		if sameIdx(existing.DerivationIndex, a.DerivationIndex) && sameIdx(existing.AccountIndex, a.AccountIndex) &&
			sameIdx(existing.SubaddressIndex, a.SubaddressIndex) {
			return existing, nil
		}
		known := existing.DerivationIndex != nil || existing.AccountIndex != nil || existing.SubaddressIndex != nil
		given := a.DerivationIndex != nil || a.AccountIndex != nil || a.SubaddressIndex != nil
		if known && given {
			return chains.Address{}, fmt.Errorf("record %s address %s: %w", a.Chain, a.Address, ledger.ErrAddressTaken)
		}
		if !given {
			return existing, nil // watching a derived address by its string
		}
		if err := l.indexFree(ctx, tx, a); err != nil {
			return chains.Address{}, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE addresses SET derivation_index = ?, account_index = ?, subaddress_index = ? WHERE id = ?`,
			nullIdx(a.DerivationIndex), nullIdx(a.AccountIndex), nullIdx(a.SubaddressIndex), existing.ID); err != nil {
			return chains.Address{}, fmt.Errorf("record %s address: %w", a.Chain, err)
		}
		existing.DerivationIndex, existing.AccountIndex, existing.SubaddressIndex = a.DerivationIndex, a.AccountIndex, a.SubaddressIndex
		return existing, nil
	case !errors.Is(err, ledger.ErrNotFound):
		return chains.Address{}, err
	}
	if err := l.indexFree(ctx, tx, a); err != nil {
		return chains.Address{}, err
	}
	now := l.now()
	res, err := tx.ExecContext(ctx, `INSERT INTO addresses (chain, address, derivation_index, account_index, subaddress_index, label, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)`, string(a.Chain), a.Address, nullIdx(a.DerivationIndex), nullIdx(a.AccountIndex),
		nullIdx(a.SubaddressIndex), a.Label, micros(now))
	if err != nil {
		if isDuplicate(err) {
			return chains.Address{}, fmt.Errorf("record %s address %s: %w", a.Chain, a.Address, errInsertRace)
		}
		return chains.Address{}, fmt.Errorf("record %s address: %w", a.Chain, err)
	}
	a.ID, err = res.LastInsertId()
	a.CreatedAt = fromMicros(micros(now))
	return a, err
}

func (l *Ledger) indexFree(ctx context.Context, tx *sql.Tx, a chains.Address) error {
	var other chains.Address
	var err error
	switch {
	case a.DerivationIndex != nil:
		other, err = addressBy(ctx, tx, `chain = ? AND derivation_index = ?`, string(a.Chain), int64(*a.DerivationIndex))
	case a.SubaddressIndex != nil:
		other, err = addressBy(ctx, tx, `chain = ? AND account_index = ? AND subaddress_index = ?`,
			string(a.Chain), nullIdx(a.AccountIndex), int64(*a.SubaddressIndex))
	default:
		return nil
	}
	if errors.Is(err, ledger.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if other.Address != a.Address {
		return fmt.Errorf("record %s address %s: %w (held by %s)", a.Chain, a.Address, ledger.ErrIndexTaken, other.Address)
	}
	return nil
}

func sameIdx(a, b *uint32) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// AllocateAddress hands out the next unused derivation index of chain and
// records its address with label. The persisted counter is advanced in a
// statement of its own (each allocation reserves one index, so
// concurrent allocations wait for each other only that long); the address
// is then recorded in a second transaction. Indexes already in the ledger
// (fixed-index allocations, gap addresses that received payments, an
// address watched by its string) are skipped. No index is ever handed out
// twice, across restarts and processes; an allocation that fails after
// its reservation leaves that index unused, like an address handed out
// and never paid.
func (l *Ledger) AllocateAddress(ctx context.Context, c chains.Chain, derive func(index uint32) (string, error), label string) (chains.Address, error) {
	if err := l.ensureCounter(ctx, c); err != nil {
		return chains.Address{}, err
	}
	for {
		next, err := l.reserveIndex(ctx, c)
		if err != nil {
			return chains.Address{}, err
		}
		if next > ledger.MaxDerivationIndex {
			return chains.Address{}, fmt.Errorf("allocate %s address: all %d indexes are used", c, int64(ledger.MaxDerivationIndex)+1)
		}
		s, err := derive(uint32(next))
		if err != nil {
			return chains.Address{}, fmt.Errorf("allocate %s address: derive index %d: %w", c, next, err)
		}
		i := uint32(next)
		var out chains.Address
		err = l.ExecTx(ctx, func(tx *sql.Tx) error {
			if _, err := addressBy(ctx, tx, `chain = ? AND address = ?`, string(c), ledgerAddress(s)); err == nil {
				return errSkipIndex // already watched by its string (subscribed before it was allocated)
			} else if !errors.Is(err, ledger.ErrNotFound) {
				return err
			}
			var err error
			out, err = l.ensureAddress(ctx, tx, chains.Address{Chain: c, Address: s, DerivationIndex: &i, Label: label})
			if errors.Is(err, ledger.ErrIndexTaken) || errors.Is(err, errInsertRace) {
				return errSkipIndex // a fixed-index allocation holds it
			}
			return err
		})
		if errors.Is(err, errSkipIndex) {
			continue
		}
		if err != nil {
			return chains.Address{}, fmt.Errorf("allocate %s address: %w", c, err)
		}
		return out, nil
	}
}

var errSkipIndex = errors.New("index in use")

// reserveIndex advances chain c's counter by one and returns the index it
// pointed at, in one autocommitted statement.
func (l *Ledger) reserveIndex(ctx context.Context, c chains.Chain) (int64, error) {
	var next int64
	var err error
	if l.dialect.name == "mysql" {
		var res sql.Result
		res, err = l.db.ExecContext(ctx, `UPDATE address_counters SET next_index = LAST_INSERT_ID(next_index + 1) WHERE chain = ?`, string(c))
		if err == nil {
			next, err = res.LastInsertId()
			next--
		}
	} else {
		err = l.db.QueryRowContext(ctx, `UPDATE address_counters SET next_index = next_index + 1 WHERE chain = ? RETURNING next_index - 1`,
			string(c)).Scan(&next)
	}
	if err != nil {
		return 0, fmt.Errorf("allocate %s address: reserve an index: %w", c, err)
	}
	return next, nil
}

// ensureCounter creates chain c's allocation counter row (once; a row
// seen is remembered for the ledger's life).
func (l *Ledger) ensureCounter(ctx context.Context, c chains.Chain) error {
	if _, ok := l.counters.Load(c); ok {
		return nil
	}
	var n int
	err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM address_counters WHERE chain = ?`, string(c)).Scan(&n)
	if err == nil && n == 0 {
		_, err = l.db.ExecContext(ctx, l.dialect.insertIgnore+` INTO address_counters (chain, next_index) VALUES (?, 0)`, string(c))
	}
	if err != nil {
		return fmt.Errorf("allocate %s address: %w", c, err)
	}
	l.counters.Store(c, true)
	return nil
}

// RaiseAddressCounter makes AllocateAddress hand out no index below next
// on chain c (the counter only moves up) and returns the counter after:
// how [bitcoin] first_index, and the addresses a node reports as used
// before this ledger, keep an empty ledger from handing out an index
// again.
func (l *Ledger) RaiseAddressCounter(ctx context.Context, c chains.Chain, next int64) (int64, error) {
	if next < 0 || next > ledger.MaxDerivationIndex+1 {
		return 0, fmt.Errorf("raise %s address counter: %d is out of range", c, next)
	}
	var now int64
	err := l.ExecTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, l.dialect.insertIgnore+` INTO address_counters (chain, next_index) VALUES (?, 0)`, string(c)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE address_counters SET next_index = ? WHERE chain = ? AND next_index < ?`, next, string(c), next); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT next_index FROM address_counters WHERE chain = ?`, string(c)).Scan(&now)
	})
	if err != nil {
		return 0, fmt.Errorf("raise %s address counter: %w", c, err)
	}
	return now, nil
}
