// Package dbtest gives tests a real, empty ledger: a fresh SQLite file, or a
// MySQL/MariaDB database with a random name that is dropped afterwards.
//
// The MySQL server is IPND_TEST_MYSQL_DSN when set (any database name in it
// is ignored), else root without password on 127.0.0.1:3306 when reachable.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/internal/testenv"
)

// DSNEnv names the variable with the test server's DSN.
const DSNEnv = "IPND_TEST_MYSQL_DSN"

func serverConfig() *mysql.Config {
	if s := os.Getenv(DSNEnv); s != "" {
		if c, err := mysql.ParseDSN(s); err == nil {
			return c
		}
	}
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr = "root", "tcp", "127.0.0.1:3306"
	return c
}

// MySQLDSN creates a database with a random name on the test server and
// returns its DSN; the database is dropped when the test ends.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	c := serverConfig()
	c.DBName = ""
	c.Timeout = 3 * time.Second
	server, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatalf("mysql: %v", err)
	}
	t.Cleanup(func() { server.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := server.PingContext(ctx); err != nil {
		testenv.Unavailable(t, "no MySQL/MariaDB server at %s (%v); set %s", c.Addr, err, DSNEnv)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ipnd_test_" + hex.EncodeToString(b)
	if _, err := server.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := server.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	c.DBName = name
	return c.FormatDSN()
}

// SQLiteDSN returns the path of a fresh SQLite file in t's temp dir.
func SQLiteDSN(t testing.TB) string {
	return filepath.Join(t.TempDir(), "ledger.db")
}

// DSN returns a fresh database for driver ("sqlite" or "mysql").
func DSN(t testing.TB, driver string) string {
	if driver == "mysql" {
		return MySQLDSN(t)
	}
	return SQLiteDSN(t)
}

// Open opens and migrates a ledger on dsn, closed when the test ends.
func Open(t testing.TB, driver, dsn string, opts db.Options) *db.Ledger {
	t.Helper()
	ctx := context.Background()
	l, err := db.Open(ctx, driver, dsn, opts)
	if err != nil {
		t.Fatalf("open %s ledger: %v", driver, err)
	}
	t.Cleanup(func() { l.Close() })
	if _, _, err := l.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s ledger: %v", driver, err)
	}
	return l
}

// Ledger returns a fresh migrated ledger on driver.
func Ledger(t testing.TB, driver string, opts db.Options) *db.Ledger {
	return Open(t, driver, DSN(t, driver), opts)
}

// Drivers are the two backends a contract test runs against.
var Drivers = []string{"sqlite", "mysql"}
