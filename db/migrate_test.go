package db_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
)

// TestMigrationResumesAfterAFailedStep: a migration whose third statement
// fails is run again after the cause is fixed and finishes, without
// running its first two statements twice (MySQL commits each DDL statement
// on its own; re-running "ADD COLUMN" would fail for ever).
func TestMigrationResumesAfterAFailedStep(t *testing.T) {
	const file = `-- a test migration
CREATE TABLE t1 (a INT);
ALTER TABLE t1 ADD COLUMN b INT;
INSERT INTO t2 (x) VALUES (1);
ALTER TABLE t1 ADD COLUMN c INT;
`
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			l, err := db.Open(ctx, driver, dbtest.DSN(t, driver), db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			l.SetMigrations(fstest.MapFS{"migrations/" + driver + "/0001_test.sql": {Data: []byte(file)}})
			_, _, err = l.Migrate(ctx)
			if err == nil || !strings.Contains(err.Error(), "t2") {
				t.Fatalf("first run: want the failure of the INSERT into t2, got %v", err)
			}
			if v, err := l.SchemaVersion(ctx); err != nil || v != 0 {
				t.Fatalf("a half-applied migration is recorded as version %d (%v)", v, err)
			}
			// The operator fixes the cause; the migration is run again.
			if _, err := l.DB().Exec(`CREATE TABLE t2 (x INT)`); err != nil {
				t.Fatal(err)
			}
			if from, to, err := l.Migrate(ctx); err != nil || from != 0 || to != 1 {
				t.Fatalf("second run: %d -> %d, %v", from, to, err)
			}
			if _, err := l.DB().Exec(`INSERT INTO t1 (a, b, c) VALUES (1, 2, 3)`); err != nil {
				t.Fatalf("t1 lacks a column: %v", err)
			}
			var n int
			if err := l.DB().QueryRow(`SELECT COUNT(*) FROM t2`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("t2 has %d rows (%v): the INSERT step ran %d times", n, err, n)
			}
		})
	}
}

// TestMigrationStepThatRanButWasNotRecorded: a process that died between a
// DDL statement and the record of its step resumes with that step, whose
// "already exists" error then means "done".
func TestMigrationStepThatRanButWasNotRecorded(t *testing.T) {
	l, err := db.Open(ctx, "mysql", dbtest.MySQLDSN(t), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.SetMigrations(fstest.MapFS{"migrations/mysql/0001_test.sql": {Data: []byte(
		"CREATE TABLE t1 (a INT);\nALTER TABLE t1 ADD COLUMN b INT;\nCREATE INDEX t1_b ON t1 (b);\n")}})
	if _, err := l.SchemaVersion(ctx); err != nil { // creates the bookkeeping tables
		t.Fatal(err)
	}
	// Step 1 recorded, step 2 ran but the process died before recording it.
	for _, s := range []string{`CREATE TABLE t1 (a INT)`, `INSERT INTO schema_steps (version, step, applied_at) VALUES (1, 0, 0)`,
		`ALTER TABLE t1 ADD COLUMN b INT`} {
		if _, err := l.DB().Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	if from, to, err := l.Migrate(ctx); err != nil || from != 0 || to != 1 {
		t.Fatalf("resume: %d -> %d, %v", from, to, err)
	}
	var n int
	if err := l.DB().QueryRow(`SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = 't1_b'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the step after the resumed one did not run: %d, %v", n, err)
	}
}
