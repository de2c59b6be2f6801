package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
)

// checkTimeout bounds one check of `check-config -connect`.
const checkTimeout = 20 * time.Second

// errChecksFailed: at least one connect check failed (exit 1; the lines
// say which and how to fix it).
var errChecksFailed = errors.New("check-config -connect: some checks failed (see the FAIL lines)")

// chainConnectChecks are the connect checks of each enabled chain, made by
// the chain's own package from its section. A new chain adds its line here.
func chainConnectChecks(cfg config.Config) []chains.Check {
	var out []chains.Check
	for _, f := range bitcoinSections(cfg) {
		if f.cfg.Enabled {
			out = append(out, f.fam.ConnectChecks(f.cfg)...)
		}
	}
	if cfg.Monero.Enabled {
		out = append(out, monero.ConnectChecks(cfg.Monero)...)
	}
	return out
}

// runConnectChecks runs the ledger's and every enabled chain's checks in
// order and prints one line per check:
//
//	ok    NAME: what it found
//	FAIL  NAME: what is wrong; fix: what to change
//	skip  NAME: not checked: why
func runConnectChecks(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	checks := append(ledgerChecks(cfg), chainConnectChecks(cfg)...)
	failed := false
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		found, err := c.Run(cctx)
		cancel()
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "ok    %s: %s\n", c.Name, found)
		case errors.Is(err, chains.ErrNotChecked):
			fmt.Fprintf(stdout, "skip  %s: %v\n", c.Name, err)
		default:
			failed = true
			var cf *chains.CheckFailure
			if !errors.As(err, &cf) {
				err = chains.Fail(err, "see the message")
			}
			fmt.Fprintf(stdout, "FAIL  %s: %v\n", c.Name, err)
		}
	}
	if failed {
		return errChecksFailed
	}
	return nil
}

// ledgerChecks open the ledger and compare its schema with this binary's.
// Nothing is written: an absent SQLite file is not created, an empty
// database gets no table.
func ledgerChecks(cfg config.Config) []chains.Check {
	d := cfg.Database
	var l *db.Ledger
	name := fmt.Sprintf("ledger (%s %s)", d.Driver, d.MaskedDSN())
	absent := false
	return []chains.Check{
		{Name: name, Run: func(ctx context.Context) (string, error) {
			if d.Driver == "sqlite" {
				if _, err := os.Stat(d.DSN.Reveal()); errors.Is(err, os.ErrNotExist) {
					absent = true
					return sqliteAbsent(d.DSN.Reveal())
				}
			}
			var err error
			l, err = db.Open(ctx, d.Driver, d.DSN.Reveal(), db.Options{})
			if err != nil {
				return "", ledgerFailure(d, err)
			}
			return "answers", nil
		}},
		{Name: "ledger schema", Run: func(ctx context.Context) (string, error) {
			if absent {
				return "none yet: `ipnd migrate` or `ipnd serve` creates it", nil
			}
			if l == nil {
				return "", chains.NotChecked("the ledger did not answer")
			}
			defer l.Close()
			return schemaState(ctx, l)
		}},
	}
}

// sqliteAbsent: a SQLite ledger that does not exist yet is fine when its
// directory lets ipnd create it.
func sqliteAbsent(path string) (string, error) {
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, ".ipnd-check-*")
	if err != nil {
		return "", chains.Fail(fmt.Errorf("%s does not exist and cannot be created: %w", path, unwrapPathErr(err)),
			"set database.dsn to a file in a directory the user ipnd runs as may write to (for instance /var/lib/ipnd/ipnd.db)")
	}
	probe.Close()
	os.Remove(probe.Name())
	return fmt.Sprintf("%s does not exist yet; ipnd creates it (directory %s is writable)", path, dir), nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// schemaState compares the ledger's schema version with this binary's.
func schemaState(ctx context.Context, l *db.Ledger) (string, error) {
	latest, err := l.LatestVersion()
	if err != nil {
		return "", err
	}
	exists, err := hasVersionTable(ctx, l)
	if err != nil {
		return "", chains.Fail(err, "check that database.dsn's user may read the database")
	}
	v := 0
	if exists {
		if v, err = l.SchemaVersion(ctx); err != nil {
			return "", chains.Fail(err, "check that database.dsn's user may read the database")
		}
	}
	switch {
	case v == latest:
		return fmt.Sprintf("version %d, up to date", v), nil
	case v == 0:
		return fmt.Sprintf("empty: `ipnd migrate` or `ipnd serve` creates schema version %d", latest), nil
	case v < latest:
		return fmt.Sprintf("version %d, needs migrating to %d: `ipnd serve` does it at start (or run `ipnd migrate`)", v, latest), nil
	default:
		return "", chains.Fail(fmt.Errorf("%w: version %d, this ipnd knows up to %d", db.ErrSchemaNewer, v, latest),
			"run the ipnd release that migrated it, or a newer one (an older binary must not write to a newer ledger)")
	}
}

// hasVersionTable reports whether the ledger has its schema_version table,
// without creating it.
func hasVersionTable(ctx context.Context, l *db.Ledger) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`
	if l.Driver() == "mysql" {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'schema_version'`
	}
	var n int
	if err := l.DB().QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("look for the schema_version table: %w", err)
	}
	return n > 0, nil
}

// ledgerFailure gives an error opening the ledger its fix. MySQL's
// messages name the user and host, never the password.
func ledgerFailure(d config.Database, err error) error {
	var me *mysql.MySQLError
	var opErr *net.OpError
	switch {
	case errors.As(err, &me) && me.Number == 1045:
		return chains.Fail(err, "check the user and password in database.dsn; the user must exist for the host ipnd "+
			"connects from ('ipnd'@'127.0.0.1' over TCP, 'ipnd'@'localhost' over the unix socket: see the README's MySQL setup)")
	case errors.As(err, &me) && me.Number == 1049:
		return chains.Fail(err, "create the database (CREATE DATABASE ipnd CHARACTER SET utf8mb4) or correct its name at the end of database.dsn")
	case errors.As(err, &me) && (me.Number == 1044 || me.Number == 1142):
		return chains.Fail(err, "grant the user of database.dsn all privileges on its database (GRANT ALL ON ipnd.* TO ...)")
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return chains.Fail(err, "start MySQL/MariaDB, or correct the host:port or socket path in database.dsn")
	case d.Driver == "sqlite":
		return chains.Fail(err, "set database.dsn to a SQLite file the user ipnd runs as may read and write")
	}
	return chains.Fail(err, "check database.dsn and the database server's log")
}
