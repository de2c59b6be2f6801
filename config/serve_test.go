package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate and its key to dir and returns the paths.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func withKey() Config {
	c := Default()
	c.Server.APIKeys = []Secret{"0123456789abcdef"}
	return c
}

func TestServeChecksAPIKeys(t *testing.T) {
	c := Default()
	probs, _ := c.ServeChecks(AllRoles)
	msg, ok := problemsOf(probs)["server.api_keys"]
	if !ok || !strings.Contains(msg, "IPND_SERVER_API_KEYS") || !strings.Contains(msg, "allow_unauthenticated") {
		t.Errorf("empty api_keys with the api role: %v", probs)
	}
	if probs, _ := c.ServeChecks(Roles{Sync: true, IPN: true}); len(probs) != 0 {
		t.Errorf("a process without the api role needs no API keys: %v", probs)
	}
	c.Server.AllowUnauthenticated = true
	if probs, _ := c.ServeChecks(AllRoles); len(probs) != 0 {
		t.Errorf("allow_unauthenticated on loopback: %v", probs)
	}
	if probs, warns := withKey().ServeChecks(AllRoles); len(probs)+len(warns) != 0 {
		t.Errorf("the defaults with one API key must pass without warnings: %v %v", probs, warns)
	}
}

func TestServeChecksTLSFiles(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := selfSigned(t, dir, "a")
	_, keyB := selfSigned(t, dir, "b")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, c := range []struct {
		name, cert, key string
		want            map[string]string // key -> substring
	}{
		{"a valid pair", certA, keyA, nil},
		{"missing cert", missing, keyA, map[string]string{"server.tls_cert": "cannot read " + missing + ": no such file"}},
		{"missing key", certA, missing, map[string]string{"server.tls_key": "cannot read " + missing + ": no such file"}},
		{"both missing", missing, missing + "2", map[string]string{"server.tls_cert": "PEM certificate", "server.tls_key": "PEM private key"}},
		{"key of another certificate", certA, keyB, map[string]string{"server.tls_cert": "do not form a certificate and its key"}},
		{"not PEM", garbage, keyA, map[string]string{"server.tls_cert": "do not form a certificate and its key"}},
	} {
		cfg := withKey()
		cfg.Server.TLSCert, cfg.Server.TLSKey = c.cert, c.key
		probs, _ := cfg.ServeChecks(AllRoles)
		got := problemsOf(probs)
		if len(got) != len(c.want) {
			t.Errorf("%s: got %v, want problems for %v", c.name, probs, c.want)
		}
		for key, sub := range c.want {
			if !strings.Contains(got[key], sub) {
				t.Errorf("%s: %s: %q does not contain %q", c.name, key, got[key], sub)
			}
		}
		if probs, _ := cfg.ServeChecks(Roles{Sync: true}); len(probs) != 0 {
			t.Errorf("%s: TLS files are the api role's: %v", c.name, probs)
		}
	}
	if os.Geteuid() != 0 { // root reads any file
		unreadable := filepath.Join(dir, "unreadable.pem")
		if err := os.WriteFile(unreadable, []byte("x"), 0o000); err != nil {
			t.Fatal(err)
		}
		cfg := withKey()
		cfg.Server.TLSCert, cfg.Server.TLSKey = certA, unreadable
		probs, _ := cfg.ServeChecks(AllRoles)
		if !strings.Contains(problemsOf(probs)["server.tls_key"], "permission denied") {
			t.Errorf("unreadable key: %v", probs)
		}
	}
}

func TestServeWarnings(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir, "a")
	for _, c := range []struct {
		listen    string
		tls       bool
		roles     Roles
		wantWarn  bool
		allowPriv bool
	}{
		{"127.0.0.1:8080", false, AllRoles, false, false},
		{"[::1]:8080", false, AllRoles, false, false},
		{"localhost:8080", false, AllRoles, false, false},
		{"0.0.0.0:8080", false, AllRoles, true, false},
		{":8080", false, AllRoles, true, false},
		{"192.168.1.5:8080", false, Roles{API: true}, true, false},
		{"0.0.0.0:8080", true, AllRoles, false, false},
		{"0.0.0.0:8080", false, Roles{Sync: true, IPN: true}, false, false},
	} {
		cfg := withKey()
		cfg.Server.Listen = c.listen
		if c.tls {
			cfg.Server.TLSCert, cfg.Server.TLSKey = cert, key
		}
		probs, warns := cfg.ServeChecks(c.roles)
		if len(probs) != 0 {
			t.Errorf("%+v: problems %v", c, probs)
		}
		msg, warned := problemsOf(warns)["server.listen"]
		if warned != c.wantWarn {
			t.Errorf("%+v: warned=%v (%v), want %v", c, warned, warns, c.wantWarn)
		}
		if warned && (!strings.Contains(msg, c.listen) || !strings.Contains(msg, "server.tls_cert")) {
			t.Errorf("the warning must name the address and the fix: %q", msg)
		}
	}
	cfg := withKey()
	cfg.IPN.AllowPrivateTargets = true
	for roles, want := range map[Roles]bool{AllRoles: true, {IPN: true}: true, {API: true}: true, {Sync: true}: false} {
		_, warns := cfg.ServeChecks(roles)
		if _, warned := problemsOf(warns)["ipn.allow_private_targets"]; warned != want {
			t.Errorf("allow_private_targets with roles %+v: warned=%v", roles, warned)
		}
	}
}

func TestMySQLDSNNeedsADatabase(t *testing.T) {
	for dsn, wantProblem := range map[string]string{
		"ipnd:hunter2@tcp(127.0.0.1:3306)/ipnd":                 "",
		"ipnd:hunter2@unix(/run/mysqld/mysqld.sock)/ipnd":       "",
		"ipnd:hunter2@tcp(127.0.0.1:3306)/":                     "names no database: end it with /dbname, e.g. ipnd:********@tcp(127.0.0.1:3306)/ipnd",
		"ipnd:hunter2@unix(/run/mysqld/mysqld.sock)/?tls=false": "names no database",
		"ipnd.db":                              "not a MySQL DSN",
		"ipnd:hunter2@tcp(127.0.0.1:3306)ipnd": "not a MySQL DSN",
	} {
		_, err := Load(write(t, ""), true, []string{"IPND_DATABASE_DRIVER=mysql", "IPND_DATABASE_DSN=" + dsn})
		if wantProblem == "" {
			if err != nil {
				t.Errorf("%s: %v", dsn, err)
			}
			continue
		}
		msg := problems(t, err)["database.dsn"]
		if !strings.Contains(msg, wantProblem) {
			t.Errorf("%s: %q, want %q", dsn, msg, wantProblem)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the password is shown: %v", dsn, err)
		}
	}
}

func TestMoneroURLForms(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:18083":               "http://127.0.0.1:18083",
		"http://127.0.0.1:18083/":              "http://127.0.0.1:18083",
		"http://127.0.0.1:18083/json_rpc":      "http://127.0.0.1:18083",
		"http://127.0.0.1:18083/json_rpc/":     "http://127.0.0.1:18083",
		"https://node.example/monero/json_rpc": "https://node.example/monero",
		" http://[::1]:18081/json_rpc ":        "http://[::1]:18081",
	} {
		if got := MoneroBaseURL(in); got != want {
			t.Errorf("MoneroBaseURL(%q) = %q, want %q", in, got, want)
		}
	}
	path := write(t, "[monero]\nenabled = true\nwallet_rpc_url = \"http://127.0.0.1:18083/json_rpc\"\n")
	cfg, err := Load(path, true, []string{"IPND_MONERO_DAEMON_RPC_URL=http://127.0.0.1:18081/json_rpc"})
	if err != nil {
		t.Fatalf("the /json_rpc forms must be accepted: %v", err)
	}
	if cfg.Monero.WalletRPCURL != "http://127.0.0.1:18083" || cfg.Monero.DaemonRPCURL != "http://127.0.0.1:18081" {
		t.Errorf("not normalised: %q %q", cfg.Monero.WalletRPCURL, cfg.Monero.DaemonRPCURL)
	}
	if !strings.Contains(cfg.Render(), "wallet_rpc_url = \"http://127.0.0.1:18083\"\n") {
		t.Errorf("check-config must print the normalised URL:\n%s", cfg.Render())
	}
	_, err = Load(path, true, []string{"IPND_MONERO_WALLET_RPC_URL=http://view:hunter2@127.0.0.1:18083/json_rpc",
		"IPND_MONERO_DAEMON_RPC_URL=127.0.0.1:18081"})
	got := problems(t, err)
	if !strings.Contains(got["monero.wallet_rpc_url"], "monero.wallet_rpc_user") ||
		!strings.Contains(got["monero.daemon_rpc_url"], "must be an http(s) URL") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad URLs: %v", err)
	}
}

func TestMoneroDaemonLoginAndZMQ(t *testing.T) {
	path := write(t, "[monero]\nenabled = true\ndaemon_rpc_user = \"node\"\ndaemon_zmq_pub = \"tcp://0.0.0.0:18084\"\n")
	got := problems(t, func() error { _, err := Load(path, true, nil); return err }())
	if !strings.Contains(got["monero.daemon_rpc_user"], "monero.daemon_rpc_password") {
		t.Errorf("user without password: %q", got["monero.daemon_rpc_user"])
	}
	if !strings.Contains(got["monero.daemon_zmq_pub"], "bind address") {
		t.Errorf("wildcard endpoint: %q", got["monero.daemon_zmq_pub"])
	}
	for _, bad := range []string{"127.0.0.1:18084", "tcp://127.0.0.1", "http://127.0.0.1:18084", "tcp://127.0.0.1:0", "ipc://relative"} {
		_, err := Load(path, true, []string{"IPND_MONERO_DAEMON_RPC_PASSWORD=pw", "IPND_MONERO_DAEMON_ZMQ_PUB=" + bad})
		if p := problems(t, err); !strings.Contains(p["monero.daemon_zmq_pub"], "tcp://host:port") || len(p) != 1 {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for _, good := range []string{"tcp://127.0.0.1:18084", "tcp://[::1]:18084", "tcp://node.lan:18084", "ipc:///run/monerod/zmq"} {
		cfg, err := Load(path, true, []string{"IPND_MONERO_DAEMON_RPC_PASSWORD=pw", "IPND_MONERO_DAEMON_ZMQ_PUB=" + good})
		if err != nil || cfg.Monero.DaemonZMQPub != good || cfg.Monero.DaemonRPCPassword.Reveal() != "pw" {
			t.Errorf("%q: %v", good, err)
		}
	}
	cfg, _ := Load(path, true, []string{"IPND_MONERO_DAEMON_RPC_PASSWORD=hunter2-node", "IPND_MONERO_DAEMON_ZMQ_PUB=tcp://127.0.0.1:1"})
	if strings.Contains(cfg.Render(), "hunter2") {
		t.Errorf("daemon password shown:\n%s", cfg.Render())
	}
}
