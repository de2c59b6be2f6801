// Package db stores ipnd's ledger (the records of package ledger: chain
// state, watched addresses, deposits, subscriptions and notifications) on
// MySQL/MariaDB (production, shared by several ipnd processes) or embedded
// SQLite (the zero-setup default).
//
// Both backends run the same SQL through a small dialect; every chain write
// is one transaction that also creates the notifications it causes.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Options tune a Ledger.
type Options struct {
	// Payload renders notification bodies; nil uses DefaultPayload.
	Payload ledger.PayloadBuilder
	// Logger receives the ledger's log lines; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil uses the database's (see Ledger.Now).
	Now func() time.Time
	// Observer is told how long after its chain event each notification
	// was made (metrics); nil for none.
	Observer Observer
	// KeepBlocks is how many recent block hashes per chain are kept for reorg
	// detection; 0 means 288.
	KeepBlocks int
}

// Observer receives the ledger's measurements (*metrics.Registry).
type Observer interface {
	// NotificationsCreated reports the notifications one chain write made,
	// each with the time from the chain event's observation to its
	// creation.
	NotificationsCreated(c chains.Chain, sinceObserved []time.Duration)
}

// Ledger is the store every role uses.
type Ledger struct {
	db      *sql.DB
	dialect dialect
	payload ledger.PayloadBuilder
	log     *slog.Logger
	now     func() time.Time
	keep    int64
	// clock follows the MySQL server's clock (nil: SQLite or Options.Now).
	clock     *dbClock
	stopClock context.CancelFunc
	observer  Observer
	// counters holds the chains whose address counter row exists.
	counters sync.Map
	// balance is Balance's prepared statement (balanceStmt).
	stmtMu  sync.Mutex
	balance *sql.Stmt
	nextDue *sql.Stmt // NextDue's (nextDueStmt)
	// migrationFS replaces the embedded migrations (tests).
	migrationFS fs.FS
	// skips holds the payments left out of chain writes already logged
	// (paymentSkipped).
	skipMu sync.Mutex
	skips  map[string]bool
	// fences holds the fencing token of each chain whose sync lock this
	// Ledger took (LockChain, checkFence).
	fenceMu sync.Mutex
	fences  map[chains.Chain]int64
}

type dialect struct {
	name         string
	insertIgnore string // "INSERT IGNORE" / "INSERT OR IGNORE"
	forUpdate    string // row lock suffix for a read inside a transaction
	skipLocked   string // row lock suffix that skips rows others hold
	// straightJoin after SELECT joins the tables in the order written
	// (MySQL's optimizer may otherwise start a notification read from
	// endpoints: one shop URL has every subscription).
	straightJoin string
	txOpts       *sql.TxOptions
}

var (
	mysqlDialect = dialect{
		name:         "mysql",
		insertIgnore: "INSERT IGNORE",
		forUpdate:    " FOR UPDATE",
		skipLocked:   " FOR UPDATE SKIP LOCKED",
		straightJoin: "STRAIGHT_JOIN ",
		txOpts:       &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	}
	sqliteDialect = dialect{
		name:         "sqlite",
		insertIgnore: "INSERT OR IGNORE",
	}
)

// Open connects to the ledger. driver is "sqlite" (dsn = file path) or
// "mysql" (dsn = go-sql-driver DSN). It does not migrate; call Migrate.
func Open(ctx context.Context, driver, dsn string, opts Options) (*Ledger, error) {
	l := &Ledger{payload: opts.Payload, log: opts.Logger, now: opts.Now, keep: int64(opts.KeepBlocks), observer: opts.Observer}
	if l.payload == nil {
		l.payload = DefaultPayload
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.log = l.log.With("subsystem", "db")
	if l.now == nil {
		l.now = time.Now // SQLite: this machine is the database's
	}
	if l.keep <= 0 {
		l.keep = 288
	}
	var err error
	switch driver {
	case "sqlite":
		l.dialect = sqliteDialect
		l.db, err = sql.Open("sqlite", sqliteDSN(dsn))
		if err != nil {
			return nil, fmt.Errorf("open sqlite ledger: %w", err)
		}
		// One connection: SQLite has one writer anyway, and this keeps
		// transactions of this process strictly serialized.
		l.db.SetMaxOpenConns(1)
	case "mysql":
		l.dialect = mysqlDialect
		cfg, perr := mysql.ParseDSN(dsn)
		if perr != nil {
			return nil, errors.New("open mysql ledger: database.dsn is not a valid MySQL DSN")
		}
		cfg.ParseTime = false
		cfg.InterpolateParams = true
		if cfg.Timeout == 0 {
			cfg.Timeout = 5 * time.Second
		}
		conn, cerr := mysql.NewConnector(cfg)
		if cerr != nil {
			return nil, fmt.Errorf("open mysql ledger: %w", cerr)
		}
		l.db = sql.OpenDB(conn)
		l.db.SetMaxOpenConns(32)
		l.db.SetMaxIdleConns(32)
		l.db.SetConnMaxLifetime(30 * time.Minute)
	default:
		return nil, fmt.Errorf("open ledger: unknown driver %q (want sqlite or mysql)", driver)
	}
	if err := l.db.PingContext(ctx); err != nil {
		l.db.Close()
		return nil, fmt.Errorf("open %s ledger: %w", driver, err)
	}
	l.stopClock = func() {}
	if driver == "mysql" && opts.Now == nil {
		l.clock = newDBClock()
		if err := l.clock.measure(ctx, l.db); err != nil {
			l.db.Close()
			return nil, fmt.Errorf("open mysql ledger: %w", err)
		}
		if off := l.ClockOffset(); off > time.Second || off < -time.Second {
			l.log.Warn("this machine's clock differs from the database server's; the ledger uses the server's",
				"offset", off.Round(time.Millisecond))
		}
		var cctx context.Context
		cctx, l.stopClock = context.WithCancel(context.Background())
		go l.clock.follow(cctx, l.db)
		l.now = l.clock.now
	}
	return l, nil
}

func sqliteDSN(path string) string {
	if strings.HasPrefix(path, "file:") {
		return path
	}
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// Close releases the connections.
func (l *Ledger) Close() error {
	l.stopClock()
	l.stmtMu.Lock()
	if l.balance != nil {
		l.balance.Close()
	}
	if l.nextDue != nil {
		l.nextDue.Close()
	}
	l.stmtMu.Unlock()
	return l.db.Close()
}

// Ping checks that the store answers (for the readiness check).
func (l *Ledger) Ping(ctx context.Context) error { return l.db.PingContext(ctx) }

// Driver names the backend: "sqlite" or "mysql".
func (l *Ledger) Driver() string { return l.dialect.name }

// DB exposes the pool for tests and tools of this module.
func (l *Ledger) DB() *sql.DB { return l.db }

// ExecTx runs fn in one transaction, committing if it returns nil. Deadlocks
// and lock timeouts (MySQL) and busy errors (SQLite) are retried a few times
// with a short random pause; fn must therefore be safe to run again.
func (l *Ledger) ExecTx(ctx context.Context, fn func(*sql.Tx) error) error {
	const tries = 8
	var err error
	for i := 0; i < tries; i++ {
		err = l.execTxOnce(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
		pause := time.Duration(5+rand.IntN(20*(i+1))) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return err
}

func (l *Ledger) execTxOnce(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := l.db.BeginTx(ctx, l.dialect.txOpts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func retryable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205 // deadlock, lock wait timeout
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
	}
	return false
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// placeholders returns "?,?,?" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}
