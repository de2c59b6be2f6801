package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// LockChain makes this process the only sync process of chain: it blocks
// until the chain's lock is free (calling waiting once if it is not), then
// returns a context that is cancelled if the lock is ever lost, and a
// release function. MySQL uses GET_LOCK on a dedicated connection, so a
// process that dies releases it with its connection; SQLite uses an flock
// on a file next to the database.
//
// Taking the lock bumps the chain's fencing token (sync_fences), and from
// then on every chain write of this Ledger checks in its transaction that
// the token is still the one it took: a process that lost the lock (its
// lock connection died and another process took over) fails its writes
// with ledger.ErrChainLockLost instead of writing beside the new holder,
// even before its watch of the lock notices.
func (l *Ledger) LockChain(ctx context.Context, c chains.Chain, dsn string, waiting func()) (context.Context, func(), error) {
	var held context.Context
	var release func()
	var err error
	if l.dialect.name == "mysql" {
		held, release, err = l.lockMySQL(ctx, c, waiting)
	} else {
		held, release, err = lockFile(ctx, sqlitePath(dsn)+".sync-"+string(c)+".lock", waiting)
	}
	if err != nil {
		return nil, nil, err
	}
	gen, err := l.bumpFence(ctx, c)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("sync lock %s: %w", c, err)
	}
	return held, func() {
		l.fenceMu.Lock()
		if l.fences[c] == gen {
			delete(l.fences, c)
		}
		l.fenceMu.Unlock()
		release()
	}, nil
}

// bumpFence takes the next fencing token of chain c for this Ledger.
func (l *Ledger) bumpFence(ctx context.Context, c chains.Chain) (int64, error) {
	var gen int64
	err := l.ExecTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, l.dialect.insertIgnore+` INTO sync_fences (chain, generation) VALUES (?, 0)`, string(c)); err != nil {
			return fmt.Errorf("fencing token: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_fences SET generation = generation + 1 WHERE chain = ?`, string(c)); err != nil {
			return fmt.Errorf("fencing token: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT generation FROM sync_fences WHERE chain = ?`, string(c)).Scan(&gen); err != nil {
			return fmt.Errorf("fencing token: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	l.fenceMu.Lock()
	if l.fences == nil {
		l.fences = map[chains.Chain]int64{}
	}
	l.fences[c] = gen
	l.fenceMu.Unlock()
	return gen, nil
}

// checkFence fails a chain write of c with ledger.ErrChainLockLost when
// this Ledger took c's sync lock and another process has taken it since.
// The row is locked until the write commits, so a takeover waits for the
// write in flight and never interleaves with it. A Ledger that never took
// the lock (tools, tests) writes unfenced.
func (l *Ledger) checkFence(ctx context.Context, tx *sql.Tx, c chains.Chain) error {
	l.fenceMu.Lock()
	gen, fenced := l.fences[c]
	l.fenceMu.Unlock()
	if !fenced {
		return nil
	}
	var cur int64
	if err := tx.QueryRowContext(ctx, `SELECT generation FROM sync_fences WHERE chain = ?`+l.dialect.forUpdate, string(c)).Scan(&cur); err != nil {
		return fmt.Errorf("%s fencing token: %w", c, err)
	}
	if cur != gen {
		return fmt.Errorf("%s write refused (token %d, now %d): %w", c, gen, cur, ledger.ErrChainLockLost)
	}
	return nil
}

func sqlitePath(dsn string) string {
	p := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// lockName is the name of a MySQL user lock of this ledger: GET_LOCK
// names are global to the server, so the name carries a digest of the
// database's name and two ledgers on one server never share a lock.
// MySQL allows 64 characters: "ipnd_" + purpose + "_" + 40 hex digits.
func lockName(ctx context.Context, q queryer, purpose string) (string, error) {
	var dbName sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT DATABASE()`).Scan(&dbName); err != nil {
		return "", fmt.Errorf("lock name: %w", err)
	}
	sum := sha256.Sum256([]byte(dbName.String))
	return "ipnd_" + purpose + "_" + hex.EncodeToString(sum[:20]), nil
}

func (l *Ledger) lockMySQL(ctx context.Context, c chains.Chain, waiting func()) (context.Context, func(), error) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("sync lock %s: %w", c, err)
	}
	name, err := lockName(ctx, conn, "sync_"+string(c))
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("sync lock %s: %w", c, err)
	}
	told := false
	for {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 1)`, name).Scan(&got); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("sync lock %s: %w", c, err)
		}
		if got.Int64 == 1 {
			break
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		if ctx.Err() != nil {
			conn.Close()
			return nil, nil, ctx.Err()
		}
	}
	held, lost := context.WithCancel(ctx)
	go func() { // the lock lives as long as the connection: watch it
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-held.Done():
				return
			case <-t.C:
			}
			var mine sql.NullInt64
			err := conn.QueryRowContext(held, `SELECT IS_USED_LOCK(?) = CONNECTION_ID()`, name).Scan(&mine)
			if held.Err() != nil {
				return
			}
			if err != nil || mine.Int64 != 1 {
				l.log.Error("sync lock lost", "chain", c, "err", err)
				lost()
				return
			}
		}
	}()
	release := func() {
		lost()
		// Bounded: a hung server must not hold up the shutdown; closing
		// the connection releases the lock anyway.
		rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		if _, err := conn.ExecContext(rctx, `SELECT RELEASE_LOCK(?)`, name); err != nil {
			l.log.Warn("sync lock: release failed; closing its connection releases it", "chain", c, "err", err)
		}
		conn.Close()
	}
	return held, release, nil
}

// releaseTimeout bounds the RELEASE_LOCK of a sync lock.
const releaseTimeout = 5 * time.Second

func lockFile(ctx context.Context, path string, waiting func()) (context.Context, func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("sync lock: %w", err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, nil, fmt.Errorf("sync lock %s: %w", path, err)
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	held, cancel := context.WithCancel(ctx)
	return held, func() { cancel(); f.Close() }, nil
}
