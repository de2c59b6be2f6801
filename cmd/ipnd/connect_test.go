package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/go-sql-driver/mysql"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/testenv"
)

// matchLines compares lines with want, each a regular expression for the
// whole line.
func matchLines(t *testing.T, got string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	ok := len(lines) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = regexp.MustCompile("^" + want[i] + "$").MatchString(lines[i])
	}
	if !ok {
		t.Errorf("got\n%s\nwant (regular expressions)\n%s", got, strings.Join(want, "\n"))
	}
}

var q = regexp.QuoteMeta

// check-config -connect against a real MariaDB ledger and btcd: one line
// per check, exit 0 when all pass, 1 with the fix in the line when one
// fails; the schema is compared with the binary's without writing.
func TestCheckConfigConnect(t *testing.T) {
	node := btcdtest.Shared(t)
	dsn := dbtest.MySQLDSN(t)
	masked := maskDSN(t, dsn)
	base := []string{"IPND_SERVER_API_KEYS=test-api-key-0123456789",
		"IPND_DATABASE_DRIVER=mysql", "IPND_DATABASE_DSN=" + dsn,
		"IPND_BITCOIN_ENABLED=true", "IPND_BITCOIN_NETWORK=regtest", "IPND_BITCOIN_RPC_HOST=" + node.RPCHost,
		"IPND_BITCOIN_RPC_USER=" + node.User, "IPND_BITCOIN_RPC_PASSWORD=" + node.Pass, "IPND_BITCOIN_XPUB=" + accountTPub(t)}
	genesis := chaincfg.RegressionNetParams.GenesisHash.String()
	ledgerLine := q("ok    ledger (mysql " + masked + "): answers")
	nodeLine := q("ok    bitcoin node "+node.RPCHost+`: answers (chain "regtest", `) + `\d+ blocks\)`
	networkLine := q("ok    bitcoin network: regtest (genesis block " + genesis + ")")

	out, errOut, code := ipnd(t, base, "check-config", "-connect")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	matchLines(t, out, ledgerLine, q("ok    ledger schema: empty: `ipnd migrate` or `ipnd serve` creates schema version ")+`\d+`,
		nodeLine, networkLine)
	assertNoTables(t, dsn)

	if _, errOut, code := ipnd(t, base, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	out, _, code = ipnd(t, base, "check-config", "-connect")
	matchLines(t, out, ledgerLine, q("ok    ledger schema: version ")+`\d+`+q(", up to date"), nodeLine, networkLine)
	if code != 0 {
		t.Errorf("exit %d", code)
	}

	// A ledger migrated by a newer ipnd.
	l, err := db.Open(context.Background(), "mysql", dsn, db.Options{})
	must(t, err)
	_, err = l.DB().Exec(`INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'from the future', 0)`)
	l.Close()
	must(t, err)
	out, _, code = ipnd(t, base, "check-config", "-connect")
	matchLines(t, out, ledgerLine,
		q("FAIL  ledger schema: ledger schema is newer than this binary: version 999, this ipnd knows up to ")+`\d+`+
			q("; fix: run the ipnd release that migrated it, or a newer one (an older binary must not write to a newer ledger)"),
		nodeLine, networkLine)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}

	// Wrong passwords, nothing listening, the wrong network.
	wrongDSN := withPassword(t, dsn, "hunter2-wrong")
	closed := testenv.FreeAddr(t)
	bad := append(append([]string{}, base...), "IPND_DATABASE_DSN="+wrongDSN, "IPND_BITCOIN_RPC_PASSWORD=hunter2-wrong",
		"IPND_MONERO_ENABLED=true", "IPND_MONERO_WALLET_RPC_URL=http://"+closed, "IPND_MONERO_DAEMON_RPC_URL=http://"+closed)
	out, errOut, code = ipnd(t, bad, "check-config", "-connect")
	matchLines(t, out,
		q("FAIL  ledger (mysql "+maskDSN(t, wrongDSN)+"): open mysql ledger: Error 1045 (28000): Access denied for user ")+`.*`+
			q("; fix: check the user and password in database.dsn; the user must exist for the host ipnd connects from "+
				"('ipnd'@'127.0.0.1' over TCP, 'ipnd'@'localhost' over the unix socket: see the README's MySQL setup)"),
		q("skip  ledger schema: not checked: the ledger did not answer"),
		q("FAIL  bitcoin node "+node.RPCHost+": getblockchaininfo: the node refused the RPC credentials (HTTP 401); fix: set "+
			"bitcoin.rpc_user and bitcoin.rpc_password to a user the node accepts")+`.*`,
		q("skip  bitcoin network: not checked: the node did not answer"),
		q("FAIL  monero wallet-rpc "+closed+": monero rpc unreachable: wallet-rpc at "+closed+", get_version: dial tcp "+closed+
			": connect: connection refused; fix: start monero-wallet-rpc with the view-only wallet")+`.*`,
		q("skip  monero wallet view-only: not checked: wallet-rpc did not answer with an open wallet"),
		q("FAIL  monero daemon "+closed+": monero rpc unreachable: monerod at "+closed)+`.*`+q("; fix: start monerod, or set monero.daemon_rpc_url to its RPC address")+`.*`)
	if code != 1 || !strings.Contains(errOut, "some checks failed") {
		t.Errorf("exit %d, stderr %q; want 1 and a summary", code, errOut)
	}
	assertNoSecret(t, "check-config -connect", out+errOut)

	out, _, code = ipnd(t, append(append([]string{}, base...), "IPND_BITCOIN_NETWORK=testnet"), "check-config", "-connect")
	if code != 1 || !strings.Contains(out, `FAIL  bitcoin network: the node at bitcoin.rpc_host follows regtest, not bitcoin.network = "testnet"`) {
		t.Errorf("wrong network: exit %d\n%s", code, out)
	}
}

// An absent SQLite ledger is not created by the check; an unwritable
// place for it fails with the fix.
func TestCheckConfigConnectSQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ipnd.db")
	env := []string{"IPND_SERVER_API_KEYS=test-api-key-0123456789", "IPND_DATABASE_DSN=" + path}
	out, errOut, code := ipnd(t, env, "check-config", "-connect")
	matchLines(t, out,
		q("ok    ledger (sqlite "+path+"): "+path+" does not exist yet; ipnd creates it (directory "+dir+" is writable)"),
		q("ok    ledger schema: none yet: `ipnd migrate` or `ipnd serve` creates it"))
	if code != 0 || fileExists(path) {
		t.Errorf("exit %d (%s), file created: %v", code, errOut, fileExists(path))
	}
	nowhere := filepath.Join(dir, "no", "such", "dir", "ipnd.db")
	out, _, code = ipnd(t, []string{env[0], "IPND_DATABASE_DSN=" + nowhere}, "check-config", "-connect")
	matchLines(t, out,
		q("FAIL  ledger (sqlite "+nowhere+"): "+nowhere+" does not exist and cannot be created: no such file or directory; "+
			"fix: set database.dsn to a file in a directory the user ipnd runs as may write to (for instance /var/lib/ipnd/ipnd.db)"),
		q("ok    ledger schema: none yet: `ipnd migrate` or `ipnd serve` creates it"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}

func maskDSN(t *testing.T, dsn string) string {
	c, err := mysql.ParseDSN(dsn)
	must(t, err)
	if c.Passwd != "" {
		c.Passwd = "********"
	}
	return c.FormatDSN()
}

func withPassword(t *testing.T, dsn, pass string) string {
	c, err := mysql.ParseDSN(dsn)
	must(t, err)
	c.Passwd = pass
	return c.FormatDSN()
}

// assertNoTables: the check wrote nothing to the database.
func assertNoTables(t *testing.T, dsn string) {
	t.Helper()
	l, err := db.Open(context.Background(), "mysql", dsn, db.Options{})
	must(t, err)
	defer l.Close()
	var n int
	must(t, l.DB().QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()`).Scan(&n))
	if n != 0 {
		t.Errorf("check-config -connect created %d tables", n)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
