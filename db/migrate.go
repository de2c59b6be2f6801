package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/ipnd/ipnd/ledger"
)

//go:embed migrations/mysql/*.sql migrations/sqlite/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func (l *Ledger) migrations() ([]migration, error) {
	dir := "migrations/" + l.dialect.name
	var files fs.FS = migrationFiles
	if l.migrationFS != nil {
		files = l.migrationFS
	}
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: name must start with NNNN_", e.Name())
		}
		b, err := fs.ReadFile(files, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// LatestVersion is the schema version this binary brings.
func (l *Ledger) LatestVersion() (int, error) {
	ms, err := l.migrations()
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[len(ms)-1].version, nil
}

// SchemaVersion reads the applied version (0 on an empty database).
func (l *Ledger) SchemaVersion(ctx context.Context) (int, error) {
	if err := l.ensureVersionTable(ctx); err != nil {
		return 0, err
	}
	var v sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

func (l *Ledger) ensureVersionTable(ctx context.Context) error {
	_, err := l.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
  version    INT    NOT NULL PRIMARY KEY,
  name       VARCHAR(255) NOT NULL,
  applied_at BIGINT NOT NULL
)`)
	if err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	if l.dialect.name == "mysql" {
		// The steps of a migration not finished yet (MySQL commits each DDL
		// statement on its own, so a migration can stop half-way).
		_, err = l.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_steps (
  version    INT    NOT NULL,
  step       INT    NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (version, step)
)`)
		if err != nil {
			return fmt.Errorf("create schema_steps: %w", err)
		}
	}
	return nil
}

// Migrate brings the schema up to date and returns the versions before and
// after. It is a no-op on an up-to-date database and refuses (ErrSchemaNewer)
// a database migrated by a newer ipnd. On MySQL concurrent migrations of
// several processes are serialized with a named lock.
func (l *Ledger) Migrate(ctx context.Context) (from, to int, err error) {
	return l.migrateUpTo(ctx, 0)
}

// migrateUpTo is Migrate stopping at version upTo (0: the latest).
func (l *Ledger) migrateUpTo(ctx context.Context, upTo int) (from, to int, err error) {
	ms, err := l.migrations()
	if err != nil {
		return 0, 0, err
	}
	if upTo > 0 {
		for i, m := range ms {
			if m.version > upTo {
				ms = ms[:i]
				break
			}
		}
	}
	latest := ms[len(ms)-1].version
	if l.dialect.name == "mysql" {
		conn, err := l.db.Conn(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
		name, err := lockName(ctx, conn, "migrate")
		if err != nil {
			return 0, 0, fmt.Errorf("migrate: %w", err)
		}
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 60)`, name).Scan(&got); err != nil {
			return 0, 0, fmt.Errorf("migrate: take the migration lock: %w", err)
		}
		if got.Int64 != 1 {
			return 0, 0, errors.New("migrate: could not take the migration lock within 60 s (another ipnd is migrating this database?)")
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK(?)`, name)
	}
	from, err = l.SchemaVersion(ctx)
	if err != nil {
		return 0, 0, err
	}
	if from > latest {
		return from, from, fmt.Errorf("%w: database has version %d, this ipnd knows up to %d; upgrade ipnd", ErrSchemaNewer, from, latest)
	}
	for _, m := range ms {
		if m.version <= from {
			continue
		}
		if err := l.apply(ctx, m); err != nil {
			return from, 0, err
		}
		l.log.Info("schema migrated", "version", m.version, "file", m.name)
	}
	return from, latest, nil
}

func (l *Ledger) apply(ctx context.Context, m migration) error {
	stmts := SplitSQL(m.sql)
	record := func(ex interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}) error {
		_, err := ex.ExecContext(ctx, `INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, micros(l.now()))
		if err != nil {
			return fmt.Errorf("migration %s: record version: %w", m.name, err)
		}
		return nil
	}
	if l.dialect.name != "mysql" {
		// SQLite runs the whole file in one transaction.
		return l.ExecTx(ctx, func(tx *sql.Tx) error {
			for _, s := range stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
			return record(tx)
		})
	}
	// MySQL commits every DDL statement on its own: each step is recorded
	// in schema_steps once done, so a migration that stopped half-way (a
	// crash, a lost connection, a statement that failed) resumes with its
	// first step not done when run again.
	done := map[int]bool{}
	rows, err := l.db.QueryContext(ctx, `SELECT step FROM schema_steps WHERE version = ?`, m.version)
	if err != nil {
		return fmt.Errorf("migration %s: read progress: %w", m.name, err)
	}
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		done[n] = true
	}
	rows.Close()
	if len(done) > 0 {
		l.log.Warn("resuming a migration that stopped half-way", "file", m.name, "steps_done", len(done), "steps", len(stmts))
	}
	first := true
	for i, s := range stmts {
		if done[i] {
			continue
		}
		if _, err := l.db.ExecContext(ctx, s); err != nil {
			// The first step not recorded may have run just before the
			// process stopped: its "already there" error means it is done.
			if !(first && alreadyApplied(err)) {
				return fmt.Errorf("migration %s step %d of %d: %w (fix the cause and run ipnd migrate again: it resumes at this step)",
					m.name, i+1, len(stmts), err)
			}
			l.log.Warn("migration step had already run", "file", m.name, "step", i+1, "err", err)
		}
		first = false
		if _, err := l.db.ExecContext(ctx, `INSERT INTO schema_steps (version, step, applied_at) VALUES (?, ?, ?)`,
			m.version, i, micros(l.now())); err != nil {
			return fmt.Errorf("migration %s step %d: record progress: %w", m.name, i+1, err)
		}
	}
	return l.ExecTx(ctx, func(tx *sql.Tx) error {
		if err := record(tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM schema_steps WHERE version = ?`, m.version)
		return err
	})
}

// alreadyApplied: a MySQL DDL error saying the change is already there
// (table, column or index exists; the column or index to drop is gone).
func alreadyApplied(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1050, 1054, 1060, 1061, 1091, 1826: // table exists, unknown (renamed) column, duplicate column, duplicate key, cannot drop, duplicate FK
		return true
	}
	return false
}

// SplitSQL drops "--" comments and splits a file into statements.
func SplitSQL(src string) []string {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	var out []string
	for _, s := range strings.Split(b.String(), ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ErrSchemaNewer: the ledger was migrated by a newer ipnd.
var ErrSchemaNewer = errors.New("ledger schema is newer than this binary")

var errNoRows = sql.ErrNoRows

func notFound(err error, what string) error {
	if errors.Is(err, errNoRows) {
		return fmt.Errorf("%s: %w", what, ledger.ErrNotFound)
	}
	return err
}
