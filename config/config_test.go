package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "settings.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func problems(t *testing.T, err error) map[string]string {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not Problems", err)
	}
	out := map[string]string{}
	for _, p := range ps {
		out[p.Key] = p.Msg
	}
	return out
}

func TestExampleFileIsValidAndDocumentsEveryKey(t *testing.T) {
	path := filepath.Join("..", "settings.example.toml")
	cfg, err := Load(path, true, nil)
	if err != nil {
		t.Fatalf("settings.example.toml: %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("settings.example.toml differs from the defaults:\n%s\nwant\n%s", cfg.Render(), Default().Render())
	}
	body, _ := os.ReadFile(path)
	root := reflect.TypeOf(Config{})
	for i := 0; i < root.NumField(); i++ {
		sec := root.Field(i)
		section := sec.Tag.Get("toml")
		if !strings.Contains(string(body), "["+section+"]") {
			t.Errorf("section [%s] missing", section)
		}
		for j := 0; j < sec.Type.NumField(); j++ {
			key := sec.Type.Field(j).Tag.Get("toml")
			if !strings.Contains(string(body), "\n"+key+" = ") {
				t.Errorf("key %s.%s is not documented in settings.example.toml", section, key)
			}
		}
	}
}

func TestAllProblemsReportedWithTheirKeys(t *testing.T) {
	path := write(t, `
[server]
listen = "nonsense"
log_format = "xml"
surprise = 1
trusted_proxies = ["10.0.0.0/33"]

[database]
driver = "mysql"
dsn = 42

[ipn]
max_confirms = 5000
timeout = 10
retry_schedule = ["5s", "soon"]

[bitcoin]
enabled = true
network = "moon"

[monero]
account_index = -1

[extra]
x = 1
`)
	_, err := Load(path, true, nil)
	got := problems(t, err)
	for _, key := range []string{"server.listen", "server.log_format", "server.surprise", "server.trusted_proxies", "database.dsn",
		"ipn.max_confirms", "ipn.timeout", "ipn.retry_schedule", "bitcoin.network", "bitcoin.xpub",
		"bitcoin.rpc_user", "monero.account_index", "extra"} {
		if _, ok := got[key]; !ok {
			t.Errorf("no problem reported for %s; got %v", key, got)
		}
	}
	if msg := got["database.dsn"]; !strings.Contains(msg, "must be a string") {
		t.Errorf("database.dsn: %q", msg)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.Contains(line, ": ") {
			t.Errorf("line %q does not name its key", line)
		}
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	path := write(t, "[database]\ndriver = \"sqlite\"\ndsn = \"file.db\"\n[bitcoin]\ngap_limit = 5\n")
	cfg, err := Load(path, true, []string{
		"IPND_DATABASE_DRIVER=mysql",
		"IPND_DATABASE_DSN=u:hunter2-dsn@tcp(127.0.0.1:3306)/ipnd",
		"IPND_BITCOIN_GAP_LIMIT=7",
		"IPND_BITCOIN_RPC_PASSWORD=hunter2-rpc",
		"IPND_SERVER_API_KEYS=aaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbb",
		"IPND_IPN_TIMEOUT=3s",
		"IPND_IPN_ALLOW_PRIVATE_TARGETS=true",
		"IPND_MONERO_ACCOUNT_INDEX=4",
		"OTHER=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.Driver != "mysql" || cfg.Database.DSN.Reveal() != "u:hunter2-dsn@tcp(127.0.0.1:3306)/ipnd" ||
		cfg.Bitcoin.GapLimit != 7 || cfg.Bitcoin.RPCPassword.Reveal() != "hunter2-rpc" || len(cfg.Server.APIKeys) != 2 ||
		cfg.Server.APIKeys[1].Reveal() != "bbbbbbbbbbbbbbbbbbbb" || cfg.IPN.Timeout.D() != 3*time.Second ||
		!cfg.IPN.AllowPrivateTargets || cfg.Monero.AccountIndex != 4 {
		t.Fatalf("overrides not applied: %+v", cfg)
	}
	_, err = Load(path, true, []string{"IPND_BITCOIN_GAP_LIMIT=many"})
	if msg := problems(t, err)["bitcoin.gap_limit"]; !strings.Contains(msg, "IPND_BITCOIN_GAP_LIMIT") {
		t.Fatalf("bad env value: %q", msg)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg := Default()
	cfg.Database = Database{Driver: "mysql", DSN: "ipnd:hunter2-dsn@tcp(db:3306)/ipnd"}
	cfg.Server.APIKeys = []Secret{"hunter2-apikey-0001"}
	cfg.Bitcoin.RPCPassword = "hunter2-rpc"
	cfg.Monero.WalletRPCPassword = "hunter2-wallet"

	var logged strings.Builder
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("config", "cfg", cfg, "pw", cfg.Bitcoin.RPCPassword, "keys", cfg.Server.APIKeys)
	asJSON, _ := json.Marshal(cfg)
	outputs := map[string]string{
		"Render": cfg.Render(), "%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg),
		"%#v": fmt.Sprintf("%#v", cfg), "%s": fmt.Sprintf("%s", cfg.Monero.WalletRPCPassword),
		"%q": fmt.Sprintf("%q", cfg.Bitcoin.RPCPassword), "json": string(asJSON), "slog": logged.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s output reveals a secret: %s", name, out)
		}
	}
	if !strings.Contains(cfg.Render(), `dsn = "ipnd:********@tcp(db:3306)/ipnd"`) {
		t.Errorf("Render should show the DSN with only its password masked:\n%s", cfg.Render())
	}
}

func TestLoopbackRuleForUnauthenticated(t *testing.T) {
	for listen, ok := range map[string]bool{"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true, "0.0.0.0:8080": false, "10.0.0.1:80": false} {
		cfg := Default()
		cfg.Server.Listen, cfg.Server.AllowUnauthenticated = listen, true
		_, bad := problemsOf(cfg.Validate())["server.allow_unauthenticated"]
		if bad == ok {
			t.Errorf("listen %s: allow_unauthenticated accepted=%v, want %v", listen, !bad, ok)
		}
	}
}

func problemsOf(ps Problems) map[string]string {
	out := map[string]string{}
	for _, p := range ps {
		out[p.Key] = p.Msg
	}
	return out
}

func TestMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "none.toml"), false, nil); err != nil {
		t.Fatalf("an absent default file must mean defaults: %v", err)
	}
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"), true, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot read configuration") {
		t.Fatalf("an absent named file: %v", err)
	}
	_, err = Load(write(t, "[server\n"), true, nil)
	if err == nil || !strings.Contains(err.Error(), ": line ") {
		t.Fatalf("a TOML syntax error: %v", err)
	}
}
