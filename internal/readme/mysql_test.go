package readme

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/go-sql-driver/mysql"

	"github.com/ipnd/ipnd/internal/testenv"
)

// mysqlAdminEnv names the test server's administrator DSN, as for the db
// package's tests; root without password on 127.0.0.1:3306 when unset.
const mysqlAdminEnv = "IPND_TEST_MYSQL_DSN"

func mysqlAdmin() *mysql.Config {
	if s := os.Getenv(mysqlAdminEnv); s != "" {
		if c, err := mysql.ParseDSN(s); err == nil {
			return c
		}
	}
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr = "root", "tcp", "127.0.0.1:3306"
	return c
}

var (
	// The README's names: the database and the user are both ipnd, the
	// password secret. The test puts a scratch name and a random password
	// in their place, whole words only, and nothing else.
	readmeName     = regexp.MustCompile(`\bipnd\b`)
	readmePassword = regexp.MustCompile(`\bsecret\b`)
	createdUser    = regexp.MustCompile(`(?i)CREATE USER '([^']*)'@'([^']*)'`)
)

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// TestMySQLSetupAsPrinted runs the README's SQL as the server's
// administrator, then connects with the README's DSNs, over TCP and over
// the unix socket when the server has one on this machine, and uses the
// database. The README's database and user name (ipnd) become a scratch
// name and its password (secret) a random one; the host part of the TCP DSN
// becomes the test server's address and the socket path the server's
// socket. The scratch users and database are dropped at the end.
func TestMySQLSetupAsPrinted(t *testing.T) {
	blocks := repoBlocks(t)
	setup := example(t, blocks, "mysql-setup")
	dsnTCP := dsnOf(t, example(t, blocks, "mysql-config"))
	dsnSocket := dsnOf(t, example(t, blocks, "mysql-config-socket"))

	admin := mysqlAdmin()
	admin.DBName, admin.MultiStatements, admin.Timeout = "", true, 3*time.Second
	server, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() }) // after the drops below (cleanups run last first)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := server.PingContext(ctx); err != nil {
		testenv.Unavailable(t, "no MySQL/MariaDB server at %s (%v); set %s", admin.Addr, err, mysqlAdminEnv)
	}

	name, password := "ipnd_readme_"+randomHex(6), "pw_"+randomHex(12)
	substitute := func(s string) string {
		return readmePassword.ReplaceAllString(readmeName.ReplaceAllString(s, name), password)
	}
	script := substitute(setup.Text)
	if readmeName.MatchString(script) {
		t.Fatalf("the SQL still names ipnd after substitution:\n%s", script)
	}
	users := createdUser.FindAllStringSubmatch(script, -1)
	if len(users) == 0 {
		t.Fatalf("the README's SQL creates no user:\n%s", setup.Text)
	}
	t.Cleanup(func() {
		for _, u := range users {
			if u[1] != name { // never drop a user this test did not create
				continue
			}
			if _, err := server.Exec("DROP USER IF EXISTS '" + u[1] + "'@'" + u[2] + "'"); err != nil {
				t.Errorf("drop user %s@%s: %v", u[1], u[2], err)
			}
		}
		if _, err := server.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	for _, u := range users {
		if u[1] != name {
			t.Fatalf("the README's SQL creates user %q, not the database's name", u[1])
		}
	}
	if _, err := server.ExecContext(ctx, script); err != nil {
		t.Fatalf("the README's SQL (names substituted) fails: %v\n%s", err, script)
	}

	tcp, err := mysql.ParseDSN(substitute(dsnTCP))
	if err != nil || tcp.Net != "tcp" {
		t.Fatalf("the README's TCP DSN %q: %v", dsnTCP, err)
	}
	if admin.Net == "tcp" && tcp.Addr != admin.Addr {
		t.Logf("TCP DSN: the test server is at %s, not %s", admin.Addr, tcp.Addr)
		tcp.Addr = admin.Addr
	}
	useDatabase(ctx, t, "TCP", tcp)

	sock, err := mysql.ParseDSN(substitute(dsnSocket))
	if err != nil || sock.Net != "unix" {
		t.Fatalf("the README's socket DSN %q: %v", dsnSocket, err)
	}
	var socketPath string
	if err := server.QueryRowContext(ctx, "SELECT @@socket").Scan(&socketPath); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(socketPath); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Logf("the server's socket %q is not on this machine: the socket DSN is not tried", socketPath)
		return
	}
	if sock.Addr != socketPath {
		t.Logf("socket DSN: the test server's socket is %s, not %s", socketPath, sock.Addr)
		sock.Addr = socketPath
	}
	useDatabase(ctx, t, "unix socket", sock)
}

// dsnOf returns the [database] dsn of a TOML example.
func dsnOf(t *testing.T, b Block) string {
	t.Helper()
	var f struct {
		Database struct{ Driver, DSN string }
	}
	if _, err := toml.Decode(b.Text, &f); err != nil || f.Database.Driver != "mysql" || f.Database.DSN == "" {
		t.Fatalf("%s: want [database] driver = \"mysql\" and a dsn: %v", b.Where(), err)
	}
	return f.Database.DSN
}

// useDatabase connects as the README's user and creates, fills and drops a
// table in its database: what ipnd's migrations need.
func useDatabase(ctx context.Context, t *testing.T, how string, c *mysql.Config) {
	t.Helper()
	c.Timeout = 3 * time.Second
	conn, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{
		"CREATE TABLE readme_probe (id BIGINT UNSIGNED PRIMARY KEY, note VARCHAR(20))",
		"CREATE INDEX readme_probe_note ON readme_probe (note)",
		"INSERT INTO readme_probe VALUES (1, 'x')",
		"DROP TABLE readme_probe",
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("over %s as the README's user (%s@%s): %s: %v", how, c.User, c.Addr, strings.Fields(stmt)[0], err)
		}
	}
}
