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
)

// LockChain makes this process the only sync process of chain: it blocks
// until the chain's lock is free (calling waiting once if it is not), then
// returns a context that is cancelled if the lock is ever lost, and a
// release function. MySQL uses GET_LOCK on a dedicated connection, so a
// process that dies releases it with its connection; SQLite uses an flock
// on a file next to the database.
func (l *Ledger) LockChain(ctx context.Context, c chains.Chain, dsn string, waiting func()) (context.Context, func(), error) {
	if l.dialect.name == "mysql" {
		return l.lockMySQL(ctx, c, waiting)
	}
	return lockFile(ctx, sqlitePath(dsn)+".sync-"+string(c)+".lock", waiting)
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
		conn.ExecContext(context.Background(), `SELECT RELEASE_LOCK(?)`, name)
		conn.Close()
	}
	return held, release, nil
}

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
