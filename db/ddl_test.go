package db_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
)

// TestDDLMatchesMigrations keeps the hand-readable DDL.sql and the embedded
// MySQL migrations identical in effect: both are applied to empty databases
// and every table's SHOW CREATE TABLE must agree.
func TestDDLMatchesMigrations(t *testing.T) {
	migrated := dbtest.Ledger(t, "mysql", db.Options{})
	dsn := dbtest.MySQLDSN(t)
	raw, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ddl, err := os.ReadFile(filepath.Join("..", "DDL.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range db.SplitSQL(string(ddl)) {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("DDL.sql: %v\n%s", err, stmt)
		}
	}
	want := createTables(t, migrated.DB())
	got := createTables(t, raw)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("DDL.sql makes %d tables, migrations %d", len(got), len(want))
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("table %s differs:\nDDL.sql:    %s\nmigrations: %s", name, got[name], w)
		}
	}
	// A database made from DDL.sql is at the latest version: migrate is a no-op.
	l, err := db.Open(ctx, "mysql", dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	from, to, err := l.Migrate(ctx)
	if err != nil || from != to {
		t.Fatalf("Migrate after DDL.sql: %d -> %d, %v", from, to, err)
	}
}

var autoInc = regexp.MustCompile(` AUTO_INCREMENT=\d+`)

func createTables(t *testing.T, conn *sql.DB) map[string]string {
	t.Helper()
	rows, err := conn.Query(`SHOW TABLES`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, n := range names {
		var name, create string
		if err := conn.QueryRow("SHOW CREATE TABLE "+n).Scan(&name, &create); err != nil {
			t.Fatal(err)
		}
		out[n] = strings.TrimSpace(autoInc.ReplaceAllString(create, ""))
	}
	return out
}
