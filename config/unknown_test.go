package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	keys := []string{"enabled", "network", "rpc_host", "rpc_user", "rpc_password", "rpc_cookie", "xpub"}
	for word, want := range map[string]string{
		"rpc_pasword":   "rpc_password", // deletion
		"rpc_passwordd": "rpc_password", // insertion
		"rpc_pazzword":  "rpc_password", // two substitutions
		"RPC_PASSWORD":  "rpc_password", // case
		"netwrok":       "network",      // swap
		"xpbu":          "xpub",         // swap in a short word
		"enable":        "enabled",
		"rpc_hots":      "rpc_host",
		"zpub":          "xpub",
		"password":      "", // too far from rpc_password (4 edits)
		"colour":        "",
		"":              "",
	} {
		if got := Suggest(word, keys); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", word, got, want)
		}
	}
	if got := Suggest("ab", []string{"ac", "ad"}); got != "ac" {
		t.Errorf("a tie must go to the first candidate, got %q", got)
	}
	if got := Suggest("x", nil); got != "" {
		t.Errorf("no candidates: %q", got)
	}
	if got := DidYouMean("amout", []string{"amount", "address"}); got != " (did you mean amount?)" {
		t.Errorf("DidYouMean: %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"ab", "ba", 1},
		{"abcd", "acbd", 1}, {"ca", "abc", 3}, {"rpc_pasword", "rpc_password", 1}, {"héllo", "hello", 1},
	} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
		if got := editDistance(c.b, c.a); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.b, c.a, got, c.d)
		}
	}
}

// loadLines loads body with env and returns the error's lines.
func loadLines(t *testing.T, body string, env []string) []string {
	t.Helper()
	_, err := Load(write(t, body), true, env)
	if err == nil {
		t.Fatalf("no error for\n%s\nenv %v", body, env)
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not Problems", err)
	}
	return strings.Split(err.Error(), "\n")
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func TestUnknownKeysNameTheNearMiss(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"[bitcoin]\nrpc_pasword = \"x\"\n", "bitcoin.rpc_pasword: unknown key (did you mean rpc_password?)"},
		{"[server]\napi_key = [\"0123456789abcdef\"]\n", "server.api_key: unknown key (did you mean api_keys?)"},
		{"[monero]\nwallet_rpc_ulr = \"http://127.0.0.1:18083\"\n", "monero.wallet_rpc_ulr: unknown key (did you mean wallet_rpc_url?)"},
		{"[server]\ndsn = \"x.db\"\n", "server.dsn: unknown key in [server] (did you mean database.dsn?)"},
		{"[ipn]\nenabled = true\n", "ipn.enabled: unknown key in [ipn] (did you mean bitcoin.enabled, litecoin.enabled or monero.enabled?)"},
		{"[database]\ncolour = 1\n", "database.colour: unknown key (the keys of [database] are driver, dsn)"},
		{"[bitcion]\nenabled = true\n", "bitcion: unknown section (did you mean [bitcoin]?)"},
		{"[extra]\nx = 1\n", "extra: unknown section (the sections are [server], [database], [ipn], [invoices], [bitcoin], [litecoin], [monero])"},
		{"listen = \"127.0.0.1:1\"\n", "listen: key outside any section (did you mean server.listen? put it under its [section] header)"},
		{"moneroo = 1\n", "moneroo: unknown key outside any section (did you mean the [monero] section?)"},
		{"bitcoin = 1\n", "bitcoin: must be a table ([bitcoin]), not an integer"},
	} {
		if lines := loadLines(t, c.body, nil); !hasLine(lines, c.want) {
			t.Errorf("for\n%swant the line\n  %s\ngot\n  %s", c.body, c.want, strings.Join(lines, "\n  "))
		}
	}
}

func TestUnknownEnvironmentVariables(t *testing.T) {
	body := "[database]\ndsn = \"x.db\"\n"
	lines := loadLines(t, body, []string{
		"IPND_BITCOIN_RPC_PASWORD=hunter2-typo",
		"IPND_DATABSE_DSN=hunter2-dsn",
		"IPND_COLOUR=blue",
		"IPND_BITCOIN_RPC_PASSWORD=fine",
		"IPND_REQUIRE_INTEGRATION=1", "IPND_TEST_MYSQL_DSN=root@tcp(127.0.0.1:3306)/", "IPND_BTCD=/bin/btcd",
		"IPND_MONEROD=/usr/bin/monerod", "IPND_MONERO_WALLET_RPC=/usr/bin/monero-wallet-rpc", "IPND_BIN=bin/ipnd",
		"IPND_BENCH_PAYMENTS=50", "IPNDX_OTHER=1", "OTHER=1",
	})
	for _, want := range []string{
		"IPND_BITCOIN_RPC_PASWORD: unknown setting (did you mean IPND_BITCOIN_RPC_PASSWORD?)",
		"IPND_DATABSE_DSN: unknown setting (did you mean IPND_DATABASE_DSN?)",
	} {
		if !hasLine(lines, want) {
			t.Errorf("want the line %q, got\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "IPND_BITCOIN_RPC_PASWORD: ") ||
		!strings.HasPrefix(lines[1], "IPND_COLOUR: unknown setting: variables are IPND_<SECTION>_<KEY>") {
		t.Errorf("want exactly the three unknown variables, sorted; got\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if strings.Contains(l, "hunter2") {
			t.Errorf("a variable's value is shown: %s", l)
		}
	}
	if _, err := Load(write(t, body), true, []string{"IPND_REQUIRE_INTEGRATION=1", "IPND_MONERO_WALLET_RPC=/x"}); err != nil {
		t.Errorf("tool variables must be ignored: %v", err)
	}
}

// Every key of the Config struct is a suggestion candidate, in the file and
// in the environment: a key added to a section gets "did you mean" for free.
func TestEverySettingIsSuggested(t *testing.T) {
	settings := Settings()
	if len(settings) < 30 {
		t.Fatalf("Settings() lists %d keys; the Config struct has more", len(settings))
	}
	for _, s := range settings {
		typo := s.Key[:len(s.Key)-1] // last character dropped
		lines := loadLines(t, "["+s.Section+"]\n"+typo+" = 1\n", nil)
		want := s.Section + "." + typo + ": unknown key (did you mean " + s.Key + "?)"
		if !hasLine(lines, want) {
			t.Errorf("want %q, got %q", want, lines)
		}
		env := s.Env()
		envTypo := env[:len(env)-1]
		lines = loadLines(t, "", []string{envTypo + "=1"})
		want = envTypo + ": unknown setting (did you mean " + env + "?)"
		if !hasLine(lines, want) {
			t.Errorf("want %q, got %q", want, lines)
		}
	}
}

// Config's own messages never repeat the key they are filed under, nor a
// package prefix: the line is "key: message".
func TestProblemsHaveNoDoubledPrefix(t *testing.T) {
	path := write(t, `
[server]
listen = "nowhere"
api_keys = ["short"]
allow_unauthenticated = true
tls_cert = "/nonexistent/cert.pem"
log_format = "xml"
log_level = "loud"
lisen = "x"
[database]
driver = "mysql"
dsn = "ipnd:hunter2@tcp(127.0.0.1:3306)/"
[ipn]
max_confirms = -1
workers = 0
per_host = 0
timeout = "0s"
retry_schedule = []
max_age = "-1s"
lease = "1s"
poll_interval = "0s"
[bitcoin]
enabled = true
network = "moon"
rpc_host = "nohost"
address_type = "p2sh"
gap_limit = -1
start_height = -1
poll_interval = "0s"
[monero]
enabled = true
wallet_rpc_url = "ftp://x"
daemon_rpc_url = "http://u:hunter2@127.0.0.1:18081"
wallet_rpc_user = "u"
poll_interval = "0s"
reorg_window = 0
[bitcion]
`)
	cfg, err := Load(path, true, []string{"IPND_IPN_WORKERZ=1", "IPND_IPN_PER_HOST=many"})
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	sp, sw := cfg.ServeChecks(AllRoles)
	ps = append(append(ps, sp...), sw...)
	if len(ps) < 25 {
		t.Fatalf("want every problem at once, got %d:\n%v", len(ps), ps)
	}
	for _, p := range ps {
		section, key, _ := strings.Cut(p.Key, ".")
		for _, prefix := range []string{p.Key + ":", section + ":", "config:", "ipnd:"} {
			if strings.HasPrefix(p.Msg, prefix) {
				t.Errorf("%q repeats its prefix %q", p.Error(), prefix)
			}
		}
		if key != "" && strings.HasPrefix(p.Msg, key+" ") {
			t.Errorf("%q starts with its own key", p.Error())
		}
		if strings.Contains(p.Msg, "hunter2") {
			t.Errorf("%q shows a secret", p.Error())
		}
		if p.Msg == "" {
			t.Errorf("%s: empty message", p.Key)
		}
	}
}

// documentedTypos are misspelt variables the documents show on purpose.
var documentedTypos = map[string]bool{"IPND_BITCOIN_RPC_PASWORD": true}

// Every IPND_* name the repository's code, scripts and documents use is a
// setting or a tool variable: a new tool variable that Load does not know
// would make every ipnd started by the tests refuse its environment.
func TestEveryIPNDVariableInTheRepositoryIsKnown(t *testing.T) {
	known := map[string]bool{}
	for _, s := range Settings() {
		known[s.Env()] = true
	}
	nameRe := regexp.MustCompile(`IPND_[A-Z0-9_]*`)
	files := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && path != ".." || d.Name() == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if ext != ".go" && ext != ".sh" && ext != ".md" && ext != ".toml" && d.Name() != "Makefile" && !strings.HasPrefix(ext, ".serv") {
			return nil
		}
		if filepath.Dir(path) == filepath.Join("..", "config") && strings.HasSuffix(path, "_test.go") { // this package's tests misspell on purpose
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, name := range nameRe.FindAllString(string(b), -1) {
			switch {
			case name == EnvPrefix:
			case strings.HasSuffix(name, "_"): // a prefix: IPND_TEST_, IPND_BENCH_, IPND_<SECTION>_
				if !isToolVariable(name+"X") && !strings.HasPrefix(name, "IPND_<") {
					ok := false
					for _, sec := range Sections() {
						ok = ok || name == EnvPrefix+strings.ToUpper(sec)+"_"
					}
					if !ok {
						t.Errorf("%s: %s* is neither a section's prefix nor a tool prefix", path, name)
					}
				}
			case !known[name] && !isToolVariable(name) && !documentedTypos[name]:
				t.Errorf("%s uses %s, which Load would refuse: add it to config.ToolVariables if tests or tools read it", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d files scanned", files)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append(append([]string{}, ToolVariables...), "IPND_TEST_*", "IPND_BENCH_*") {
		if !strings.Contains(string(readme), "`"+v+"`") {
			t.Errorf("README.md does not list the tool variable %s among those Load ignores", v)
		}
	}
}
