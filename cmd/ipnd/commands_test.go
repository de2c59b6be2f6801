package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains/bitcoin"
	"github.com/ipnd/ipnd/chains/bitcoin/descriptor"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/metrics"
)

const testKey = "IPND_SERVER_API_KEYS=test-api-key-0123456789"

// regtestTPub is a fixed regtest/testnet account key (BIP32 test vector 1's
// seed on the test networks).
const regtestTPub = "tpubD6NzVbkrYhZ4XgiXtGrdW5XDAPFCL9h7we1vwNCpn8tGbBcgfVYjXyhWo4E1xkh56hjod1RhGjxbaTLV3X4FyWuejifB9jusQ46QzG87VKp"

// misspeltXPub is a typo on purpose, spelt in two parts so that config's
// test of the variables the repository uses does not count it.
const misspeltXPub = "IPND_BITCOIN_" + "XPUBB"

// Exact messages: each names its setting once and says what to do.
func TestCommandErrorsNameTheSettingAndTheFix(t *testing.T) {
	apiKeys := "server.api_keys: is empty: set at least one key of 16 or more characters (IPND_SERVER_API_KEYS=key1,key2), " +
		"or allow_unauthenticated = true on a loopback listen address\n"
	tpubOnMainnet := `bitcoin.xpub: a tpub… key belongs to another network than bitcoin.network = "mainnet": set ` +
		"bitcoin.network to the key's network, or use the wallet's mainnet key (xpub, ypub or zpub)\n"
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"check-config without api_keys", nil, []string{"check-config"}, apiKeys},
		{"serve without api_keys", nil, []string{"serve"}, apiKeys},
		{"TLS files missing", []string{testKey, "IPND_SERVER_TLS_CERT=/nonexistent/cert.pem", "IPND_SERVER_TLS_KEY=/nonexistent/key.pem"},
			[]string{"check-config"},
			"server.tls_cert: cannot read /nonexistent/cert.pem: no such file or directory; point it at the PEM certificate (chain), " +
				"readable by the user ipnd runs as\n" +
				"server.tls_key: cannot read /nonexistent/key.pem: no such file or directory; point it at the PEM private key, " +
				"readable by the user ipnd runs as\n"},
		{"key of another network", []string{testKey, "IPND_BITCOIN_ENABLED=true", "IPND_BITCOIN_RPC_USER=u", "IPND_BITCOIN_RPC_PASSWORD=p",
			"IPND_BITCOIN_XPUB=" + regtestTPub}, []string{"check-config"}, tpubOnMainnet},
		{"serve: key of another network", []string{testKey, "IPND_BITCOIN_ENABLED=true", "IPND_BITCOIN_RPC_USER=u", "IPND_BITCOIN_RPC_PASSWORD=p",
			"IPND_BITCOIN_XPUB=" + regtestTPub}, []string{"serve"}, tpubOnMainnet},
		{"derive: key of another network", []string{"IPND_BITCOIN_XPUB=" + regtestTPub}, []string{"derive", "-index", "0"}, tpubOnMainnet},
		{"derive without -index", nil, []string{"derive"},
			"derive: -index is required: the index N of the receive address m/0/N, 0..2147483647 (e.g. -index 0)\n"},
		{"derive: Monero", nil, []string{"derive", "-chain", "xmr", "-index", "0"},
			"derive: -chain xmr: addresses are derived for btc or ltc only (Monero subaddresses come from the wallet)\n"},
		{"derive without a key", nil, []string{"derive", "-index", "0"},
			"bitcoin.xpub: is empty: set it to the wallet's account-level extended public key (xpub, ypub, zpub; tpub, upub, " +
				"vpub on test networks), or bitcoin.descriptor to the wallet's output descriptor, in the file or as " +
				"IPND_BITCOIN_XPUB / IPND_BITCOIN_DESCRIPTOR\n"},
		{"derive: a misspelt key setting", []string{misspeltXPub + "=x"}, []string{"derive", "-index", "0"},
			misspeltXPub + ": unknown setting (did you mean IPND_BITCOIN_XPUB?)\n"},
		{"derive: -count too far", []string{"IPND_BITCOIN_XPUB=" + regtestTPub}, []string{"derive", "-index", "2147483647", "-count", "2"},
			"derive: -index 2147483647 -count 2: the last index 2147483648 is beyond 2147483647\n"},
		{"migrate: nothing listening", []string{"IPND_DATABASE_DRIVER=mysql", "IPND_DATABASE_DSN=ipnd:hunter2@tcp(127.0.0.1:1)/ipnd?timeout=1s"},
			[]string{"migrate"},
			"database.dsn (mysql ipnd:********@tcp(127.0.0.1:1)/ipnd?timeout=1s): open mysql ledger: dial tcp 127.0.0.1:1: " +
				"connect: connection refused; fix: start MySQL/MariaDB, or correct the host:port or socket path in database.dsn\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := ipnd(t, tc.env, tc.args...)
			if errOut != tc.want {
				t.Errorf("stderr\n%s\nwant\n%s", errOut, tc.want)
			}
			if code == 0 {
				t.Errorf("exit 0")
			}
			assertNoDoubledPrefix(t, errOut)
		})
	}
}

// assertNoDoubledPrefix: no line starts "a: a:" or "key: section ..." twice.
func assertNoDoubledPrefix(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		parts := strings.SplitN(line, ": ", 3)
		if len(parts) == 3 && (parts[0] == parts[1] || strings.HasPrefix(parts[1], strings.SplitN(parts[0], ".", 2)[0]+" ")) {
			t.Errorf("doubled prefix: %s", line)
		}
	}
}

// check-config makes serve's checks for every role and prints serve's
// start-up warnings on standard error, the configuration on standard
// output.
func TestCheckConfigWarnings(t *testing.T) {
	out, errOut, code := ipnd(t, []string{testKey, "IPND_SERVER_LISTEN=0.0.0.0:8080", "IPND_IPN_ALLOW_PRIVATE_TARGETS=true"}, "check-config")
	want := "warning: server.listen: 0.0.0.0:8080 is reachable beyond this host without TLS: API keys and payment data cross " +
		"the network in clear; set server.tls_cert and server.tls_key, or listen on 127.0.0.1 behind a TLS reverse proxy\n" +
		"warning: ipn.allow_private_targets: is true: subscribers may make ipnd POST to loopback and private addresses of your " +
		"network; set it to false outside tests and the demo\n"
	if code != 0 || errOut != want || !strings.Contains(out, `listen = "0.0.0.0:8080"`) {
		t.Errorf("exit %d\nstderr\n%s\nwant\n%s\nstdout\n%s", code, errOut, want, out)
	}
}

// derive needs the key only: no node settings, [bitcoin] need not be
// enabled, other sections may be wrong; -count prints a range.
func TestDeriveFromTheKeyAlone(t *testing.T) {
	key := []string{"IPND_BITCOIN_NETWORK=regtest", "IPND_BITCOIN_XPUB=" + regtestTPub}
	var single []string
	for i := 5; i < 8; i++ {
		out, errOut, code := ipnd(t, key, "derive", "-index", itoa(i))
		if code != 0 {
			t.Fatalf("derive -index %d: exit %d %s", i, code, errOut)
		}
		single = append(single, itoa(i)+" "+strings.TrimSpace(out))
	}
	enabledWithoutNode := append([]string{"IPND_BITCOIN_ENABLED=true", "IPND_DATABASE_DRIVER=oracle", "IPND_IPN_WORKERS=0"}, key...)
	out, errOut, code := ipnd(t, enabledWithoutNode, "derive", "-index", "5", "-count", "3")
	if code != 0 || strings.TrimSpace(out) != strings.Join(single, "\n") {
		t.Errorf("derive -index 5 -count 3 without node settings: exit %d %s\n%s\nwant\n%s", code, errOut, out, strings.Join(single, "\n"))
	}
	for _, l := range single {
		if _, addr, _ := strings.Cut(l, " "); !strings.HasPrefix(addr, "m") && !strings.HasPrefix(addr, "n") {
			t.Errorf("a tpub derives p2pkh test-network addresses: %s", l)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// serve logs the configuration warnings at start; with only the ipn role
// it needs no api_keys.
func TestServeLogsWarningsForItsRoles(t *testing.T) {
	dir := t.TempDir()
	env := []string{"IPND_DATABASE_DSN=" + filepath.Join(dir, "ipnd.db"), "IPND_IPN_ALLOW_PRIVATE_TARGETS=true", "IPND_SERVER_LISTEN=0.0.0.0:0"}
	p := startIpnd(t, env, &syncBuffer{}, "", "-roles", "ipn")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.logs.String(), "ipnd starting") && time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("serve -roles ipn exited:\n%s", p.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		t.Fatal("no stop after SIGTERM")
	}
	logs := p.logs.String()
	if !strings.Contains(logs, `level=WARN msg="ipn.allow_private_targets: is true: subscribers may make ipnd POST to loopback`) ||
		!strings.Contains(logs, "setting=ipn.allow_private_targets") {
		t.Errorf("no warning for allow_private_targets:\n%s", logs)
	}
	if strings.Contains(logs, "server.listen") || strings.Contains(logs, "api_keys") {
		t.Errorf("API warnings or problems without the api role:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(dir, "ipnd.db")); err != nil {
		t.Errorf("the ledger was not created: %v", err)
	}
}

// api.New's errors carry their "api: " prefix once (roles.go wrapped them
// in a second one). serve's configuration checks catch this case first;
// buildRoles is called directly to reach it.
func TestAPIErrorHasOnePrefix(t *testing.T) {
	l := dbtest.Ledger(t, "sqlite", db.Options{})
	_, err := buildRoles(context.Background(), config.Default(), l, metrics.New(), map[string]bool{"api": true}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.HasPrefix(err.Error(), "api: server.api_keys") {
		t.Errorf("buildRoles without api_keys: %v; want one api: prefix naming server.api_keys", err)
	}
}

// derive reads [litecoin] for -chain ltc and a descriptor instead of an
// xpub: BIP84's published account as a descriptor gives BIP84's published
// addresses; a descriptor without its checksum is refused, naming the
// setting and the checksum to append.
func TestDeriveLitecoinAndDescriptors(t *testing.T) {
	const bip84Xpub = "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V"
	desc := "wpkh([73c5da0a/84h/0h/0h]" + bip84Xpub + "/<0;1>/*)"
	sum, err := descriptor.Checksum(desc)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := ipnd(t, []string{"IPND_BITCOIN_DESCRIPTOR=" + desc + "#" + sum}, "derive", "-index", "0", "-count", "2")
	if want := "0 bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu\n1 bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g\n"; code != 0 || out != want {
		t.Errorf("derive from BIP84's descriptor: exit %d %s\n%s\nwant\n%s", code, errOut, out, want)
	}
	_, errOut, code = ipnd(t, []string{"IPND_BITCOIN_DESCRIPTOR=" + desc}, "derive", "-index", "0")
	if code != 2 || !strings.HasPrefix(errOut, "bitcoin.descriptor: descriptor") || !strings.Contains(errOut, "#"+sum) {
		t.Errorf("a descriptor without its checksum: exit %d %s", code, errOut)
	}
	// Litecoin: the same account as a Litecoin zpub gives ltc1 addresses,
	// as Litecoin's parameters say; [bitcoin] is not read.
	zpub := "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
	d, err := bitcoin.LitecoinFamily.NewDeriver("mainnet", zpub, "")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := d.Address(3)
	out, errOut, code = ipnd(t, []string{"IPND_LITECOIN_XPUB=" + zpub, "IPND_BITCOIN_XPUB=not-a-key"}, "derive", "-chain", "ltc", "-index", "3")
	if code != 0 || strings.TrimSpace(out) != want || !strings.HasPrefix(want, "ltc1q") {
		t.Errorf("derive -chain ltc: exit %d %s %q, want %s", code, errOut, out, want)
	}
	_, errOut, code = ipnd(t, nil, "derive", "-chain", "ltc", "-index", "0")
	if code != 2 || !strings.HasPrefix(errOut, "litecoin.xpub: is empty") || !strings.Contains(errOut, "Ltub") {
		t.Errorf("derive -chain ltc without a key: exit %d %s", code, errOut)
	}
}
