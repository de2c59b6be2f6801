package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/browsertest"
)

var ipndBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipnd-bin")
	if err != nil {
		panic(err)
	}
	ipndBin = filepath.Join(dir, "ipnd")
	out, err := exec.Command("go", "build", "-o", ipndBin, ".").CombinedOutput()
	if err != nil {
		panic("build ipnd: " + err.Error() + "\n" + string(out))
	}
	code := coretest.Main(m) // runs the tests, then stops the shared litecoind
	btcdtest.CloseShared()
	browsertest.CloseShared()
	closeXMR()
	os.RemoveAll(dir)
	os.Exit(code)
}

func ipnd(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ipndBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run ipnd %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func assertNoSecret(t *testing.T, where, out string) {
	t.Helper()
	if strings.Contains(out, "hunter2") {
		t.Errorf("%s reveals a secret:\n%s", where, out)
	}
}

func TestCheckConfig(t *testing.T) {
	example, _ := filepath.Abs(filepath.Join("..", "..", "settings.example.toml"))
	env := []string{"IPND_SERVER_API_KEYS=hunter2-apikey-000000001", "IPND_BITCOIN_RPC_PASSWORD=hunter2-btc-rpc",
		"IPND_DATABASE_DRIVER=mysql", "IPND_DATABASE_DSN=ipnd:hunter2-dsn@tcp(127.0.0.1:3306)/ipnd"}
	out, errOut, code := ipnd(t, env, "check-config", "-config", example)
	if code != 0 {
		t.Fatalf("check-config on settings.example.toml: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, "[database]") || !strings.Contains(out, "ipnd:********@tcp(127.0.0.1:3306)/ipnd") ||
		!strings.Contains(out, `api_keys = ["********"]`) {
		t.Errorf("check-config output lacks the masked effective configuration:\n%s", out)
	}
	assertNoSecret(t, "check-config", out+errOut)

	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[ipn]\nmax_confirms = \"three\"\n[server]\nlisten = 8080\n"), 0o600)
	out, errOut, code = ipnd(t, nil, "check-config", "-config", bad)
	if code != 2 {
		t.Fatalf("check-config on a wrong type: exit %d, want 2", code)
	}
	for _, want := range []string{"ipn.max_confirms: must be an integer", "server.listen: must be a string"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if _, errOut, code = ipnd(t, nil, "check-config", "-config", filepath.Join(t.TempDir(), "absent.toml")); code != 2 ||
		!strings.Contains(errOut, "absent.toml: cannot read configuration") {
		t.Errorf("a missing -config file: exit %d, %s", code, errOut)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"serve", "-roles", "sync,cook"}, {"migrate", "-nope"}, {"version", "extra"}} {
		if _, errOut, code := ipnd(t, nil, args...); code != 2 || errOut == "" {
			t.Errorf("ipnd %v: exit %d, stderr %q; want 2 with a message", args, code, errOut)
		}
	}
	out, _, code := ipnd(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "ipnd ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestMigrateCreatesSchemaOnceOnBothBackends(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := dbtest.DSN(t, driver)
			env := []string{"IPND_DATABASE_DRIVER=" + driver, "IPND_DATABASE_DSN=" + dsn}
			l, err := db.Open(context.Background(), driver, dsn, db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			latest, err := l.LatestVersion()
			l.Close()
			if err != nil {
				t.Fatal(err)
			}
			out, errOut, code := ipnd(t, env, "migrate")
			if code != 0 || !strings.Contains(out, fmt.Sprintf("migrated from version 0 to %d", latest)) {
				t.Fatalf("first migrate: exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code = ipnd(t, env, "migrate")
			if code != 0 || !strings.Contains(out, fmt.Sprintf("up to date (version %d)", latest)) {
				t.Fatalf("second migrate: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

func TestMigrateReportsUnreachableDatabaseWithoutPassword(t *testing.T) {
	env := []string{"IPND_DATABASE_DRIVER=mysql", "IPND_DATABASE_DSN=ipnd:hunter2-dsn@tcp(127.0.0.1:1)/ipnd?timeout=1s"}
	_, errOut, code := ipnd(t, env, "migrate")
	if code == 0 || !strings.Contains(errOut, "ipnd:********@tcp(127.0.0.1:1)/ipnd") {
		t.Fatalf("migrate against nothing: exit %d\n%s", code, errOut)
	}
	assertNoSecret(t, "migrate error", errOut)
}

// TestServeStopsGracefullyAndLogsNoSecret runs the daemon with secrets in
// its environment at debug level, stops it with SIGTERM and greps its logs.
func TestServeStopsGracefullyAndLogsNoSecret(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(ipndBin, "serve")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(),
				"IPND_SERVER_LOG_LEVEL=debug", "IPND_SERVER_LOG_FORMAT="+format, "IPND_SERVER_LISTEN=127.0.0.1:0",
				"IPND_DATABASE_DSN="+filepath.Join(dir, "ipnd.db"),
				"IPND_SERVER_API_KEYS=hunter2-apikey-000000001", "IPND_BITCOIN_RPC_PASSWORD=hunter2-btc-rpc",
				"IPND_MONERO_WALLET_RPC_PASSWORD=hunter2-wallet-rpc")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			started := make(chan struct{})
			done := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(stderr)
				once := false
				for sc.Scan() {
					logs.WriteString(sc.Text() + "\n")
					if !once && strings.Contains(sc.Text(), "ipnd starting") {
						once = true
						close(started)
					}
				}
				close(done)
			}()
			select {
			case <-started:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("ipnd did not start:\n%s", logs.String())
			}
			cmd.Process.Signal(syscall.SIGTERM)
			exited := make(chan error, 1)
			go func() { <-done; exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
				}
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("no exit within the graceful stop time:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), "ipnd stopped") {
				t.Errorf("no clean stop logged:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), "subsystem") {
				t.Errorf("log lines carry no subsystem:\n%s", logs.String())
			}
			assertNoSecret(t, "daemon logs", logs.String())
		})
	}
}

func TestDeriveCommand(t *testing.T) {
	// BIP84's published account key ("abandon ... about").
	env := []string{"IPND_BITCOIN_XPUB=zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"}
	for index, want := range map[string]string{"0": "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "1": "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"} {
		out, errOut, code := ipnd(t, env, "derive", "-chain", "btc", "-index", index)
		if code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("derive -index %s: exit %d, %q %s; want %s", index, code, out, errOut, want)
		}
	}
	for _, args := range [][]string{{"derive", "-chain", "xmr", "-index", "1"}, {"derive", "-index", "-1"}, {"derive", "-index", "2147483648"}} {
		if _, errOut, code := ipnd(t, env, args...); code != 2 || errOut == "" {
			t.Errorf("ipnd %v: exit %d %q, want 2 with a message", args, code, errOut)
		}
	}
	// A private key is refused without being echoed.
	xprv := "xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu"
	_, errOut, code := ipnd(t, []string{"IPND_BITCOIN_XPUB=" + xprv}, "derive", "-index", "0")
	if code != 2 || !strings.Contains(strings.ToLower(errOut), "public") || strings.Contains(errOut, xprv[10:40]) {
		t.Errorf("derive with an xprv: exit %d, %s", code, errOut)
	}
}
