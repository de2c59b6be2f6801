package readme

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/internal/testenv"
)

// exampleRunner runs one documented example as printed. Runners run in the
// order of the table, as subtests of TestExamplesAsPrinted, and share a
// session: the quick start leaves ipnd running for the API examples. A
// stream that documents an example adds its runner here (and its name
// leaves notRunYet); a runner fails when its example has a line it does
// not know, so that a new line is run too, not skipped.
type exampleRunner struct {
	name string
	run  func(t *testing.T, s *session, b Block)
}

var exampleRunners = []exampleRunner{
	{"quick-start", runQuickStart},
	{"api-curl", runAPICurl},
	{"api-unknown-field", runUnknownField},
	{"ops-api", runOpsAPI},
	{"ops-cli", runOpsCLI},
	{"test-receiver", runTestReceiverExample},
	{"demo", runDemo},
}

// session is what the runners share: the sandbox the quick start ran in,
// the environment its commands got, and the ipnd it started.
type session struct {
	t     *testing.T // TestExamplesAsPrinted: what lives across runners is its
	dir   string     // the repository copy (see sandbox)
	env   []string   // the commands' environment, with KEY and API
	key   string     // the API key the editor put in settings.toml
	api   string     // host:port ipnd listens on: $API
	node  *btcdtest.Node
	ipnd  *background // bin/ipnd serve, nil until the quick start ran it
	xpub  string
	curlH string // CURL_HOME: a .curlrc that prints the status after the body
}

func TestExamplesAsPrinted(t *testing.T) {
	blocks := repoBlocks(t)
	s := &session{t: t}
	t.Cleanup(func() {
		if s.ipnd != nil {
			if err := s.ipnd.stop(); err != nil {
				t.Errorf("bin/ipnd serve did not stop cleanly on SIGTERM: %v\n%s", err, tail(s.ipnd.out.String(), 30))
			}
		}
	})
	for _, r := range exampleRunners {
		b := example(t, blocks, r.name)
		t.Run(r.name, func(t *testing.T) { r.run(t, s, b) })
	}
}

// stripComment cuts a trailing "  # comment" from a command line.
func stripComment(line string) string {
	if i := strings.Index(line, " #"); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}

// runQuickStart runs the README's quick start in a copy of the repository:
// make build, cp, an $EDITOR that makes the edits the comment asks for
// (enable [bitcoin] against the shared btcd regtest node, set api_keys and
// listen on a free port), check-config with and without -connect, and
// bin/ipnd serve, left running until /readyz answers 200.
func runQuickStart(t *testing.T, s *session, b Block) {
	if _, err := exec.LookPath("make"); err != nil {
		testenv.Unavailable(t, "make is not installed")
	}
	node := btcdtest.Shared(t)
	s.node, s.dir = node, sandbox(s.t)
	s.key, s.api, s.xpub = "readme-quick-start-key-0123456789", testenv.FreeAddr(t), regtestTPub(t)
	edits := map[string][2]string{
		"server.listen":             {`listen = "127.0.0.1:8080"`, fmt.Sprintf("listen = %q", s.api)},
		"server.api_keys":           {`api_keys = []`, fmt.Sprintf("api_keys = [%q]", s.key)},
		"ipn.allow_private_targets": {`allow_private_targets = false`, `allow_private_targets = true`}, // shop.example does not resolve
		"bitcoin.enabled":           {`enabled = false`, `enabled = true`},
		"bitcoin.network":           {`network = "mainnet"`, `network = "regtest"`},
		"bitcoin.rpc_host":          {`rpc_host = "127.0.0.1:8332"`, fmt.Sprintf("rpc_host = %q", node.RPCHost)},
		"bitcoin.rpc_user":          {`rpc_user = ""`, fmt.Sprintf("rpc_user = %q", node.User)},
		"bitcoin.rpc_password":      {`rpc_password = ""`, fmt.Sprintf("rpc_password = %q", node.Pass)},
		"bitcoin.xpub":              {`xpub = ""`, fmt.Sprintf("xpub = %q", s.xpub)},
		"bitcoin.poll_interval":     {`poll_interval = "30s"`, `poll_interval = "200ms"`},
	}
	editor := writeEditor(s.t, edits)
	s.curlH = s.t.TempDir()
	if err := os.WriteFile(filepath.Join(s.curlH, ".curlrc"), []byte("write-out = \"\\n%{http_code}\\n\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env = commandEnv("EDITOR="+editor, "KEY="+s.key, "API="+s.api, "CURL_HOME="+s.curlH)
	privateWarning := "warning: ipn.allow_private_targets: is true: subscribers may make ipnd POST to loopback and " +
		"private addresses of your network; set it to false outside tests and the demo\n"

	steps := map[string]func(r shResult){
		"make build": func(r shResult) {
			if st, err := os.Stat(filepath.Join(s.dir, "bin", "ipnd")); r.code != 0 || err != nil || st.Mode()&0o111 == 0 {
				t.Fatalf("%s\nno executable bin/ipnd: %v", r, err)
			}
		},
		"cp settings.example.toml settings.toml": func(r shResult) {
			if r.code != 0 {
				t.Fatal(r)
			}
		},
		"$EDITOR settings.toml": func(r shResult) {
			if r.code != 0 {
				t.Fatalf("%s\n(the edits no longer fit settings.example.toml: update the quick start's edits)", r)
			}
			checkEdits(t, filepath.Join(s.dir, "settings.toml"), edits)
		},
		"bin/ipnd check-config": func(r shResult) {
			for _, want := range []string{"[bitcoin]\nenabled = true\nnetwork = \"regtest\"", `api_keys = ["********"]`, `rpc_password = "********"`} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("%s\nthe effective configuration lacks %q", r, want)
				}
			}
			if r.code != 0 || r.stderr != privateWarning {
				t.Errorf("%s\nwant exit 0 and the allow_private_targets warning only", r)
			}
			if strings.Contains(r.stdout+r.stderr, s.key) || strings.Contains(r.stdout+r.stderr, node.Pass) {
				t.Errorf("check-config shows a secret:\n%s", r)
			}
		},
		"bin/ipnd check-config -connect": func(r shResult) {
			want := []string{
				`ok    ledger \(sqlite ipnd\.db\): ipnd\.db does not exist yet; ipnd creates it \(directory \. is writable\)`,
				"ok    ledger schema: none yet: `ipnd migrate` or `ipnd serve` creates it",
				`ok    bitcoin node ` + regexp.QuoteMeta(node.RPCHost) + `: answers \(chain "regtest", \d+ blocks\)`,
				`ok    bitcoin network: regtest \(genesis block [0-9a-f]{64}\)`,
			}
			if r.code != 0 || r.stderr != privateWarning || !matchAll(r.stdout, want) {
				t.Errorf("%s\nwant exit 0, the warning and the lines\n%s", r, strings.Join(want, "\n"))
			}
		},
	}
	lines := b.Commands()
	for i, line := range lines {
		cmd := stripComment(line)
		if cmd == "bin/ipnd serve" && i == len(lines)-1 {
			s.ipnd = startBackground(t, s.dir, s.env, line)
			waitReady(t, s)
			if logs := s.ipnd.out.String(); !strings.Contains(logs, "ipn.allow_private_targets: is true") {
				t.Errorf("serve logged no allow_private_targets warning:\n%s", logs)
			}
			continue
		}
		check, ok := steps[cmd]
		if !ok {
			t.Fatalf("the quick start has a line this test does not know: %q (add what it should do to runQuickStart)", line)
		}
		r := sh(t, s.dir, s.env, 5*time.Minute, line)
		t.Logf("%s", r)
		check(r)
		delete(steps, cmd)
	}
	for cmd := range steps {
		t.Errorf("the quick start no longer has %q: update runQuickStart", cmd)
	}
	if s.ipnd == nil {
		t.Fatal("the quick start does not end with bin/ipnd serve")
	}
}

// waitReady waits until /readyz answers 200 (the node reached and synced).
func waitReady(t *testing.T, s *session) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if !s.ipnd.running() {
			t.Fatalf("bin/ipnd serve exited: %v\n%s", s.ipnd.err, s.ipnd.out)
		}
		resp, err := http.Get("http://" + s.api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("bin/ipnd serve not ready within 60 s:\n%s", tail(s.ipnd.out.String(), 30))
}

// runAPICurl runs the README's curl lines as printed, with KEY and API set
// as the README says, against the ipnd of the quick start: the address at
// index 1010 with a subscription is the one `bin/ipnd derive` gives; paid
// and mined, its balance shows the payment confirmed.
func runAPICurl(t *testing.T, s *session, b Block) {
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Unavailable(t, "curl is not installed (apt-get install curl)")
	}
	if s.ipnd == nil || !s.ipnd.running() {
		t.Fatal("the quick start left no ipnd running")
	}
	d := sh(t, s.dir, s.env, time.Minute, "bin/ipnd derive -chain btc -index 1010")
	want := strings.TrimSpace(d.stdout)
	if d.code != 0 || want == "" {
		t.Fatalf("%s", d)
	}
	const paid = 12345678
	lines := b.Commands()
	if len(lines) != 2 || !strings.Contains(lines[0], "$API/addresses") || !strings.Contains(lines[1], "$API/balance") {
		t.Fatalf("the API example changed (want a POST /addresses, then GET /balance): %q; update runAPICurl", lines)
	}
	for _, l := range lines {
		if !strings.Contains(l, "Authorization: Bearer $KEY") {
			t.Errorf("%q does not send the API key as the README says", l)
		}
		if strings.Contains(l, " -d ") && !strings.Contains(l, "Content-Type: application/json") {
			t.Errorf("%q sends JSON without Content-Type: application/json", l)
		}
	}

	status, body := curl(t, s, lines[0])
	var addr struct {
		Chain        string `json:"chain"`
		Address      string `json:"address"`
		Index        *int   `json:"index"`
		URI          string `json:"uri"`
		Subscription *struct {
			ID          int64  `json:"id"`
			Secret      string `json:"secret"`
			URL         string `json:"url"`
			MaxConfirms int    `json:"max_confirms"`
		} `json:"subscription"`
	}
	decode(t, body, &addr)
	if status != http.StatusOK || addr.Chain != "btc" || addr.Address != want || addr.Index == nil || *addr.Index != 1010 ||
		addr.URI != "bitcoin:"+want || addr.Subscription == nil || addr.Subscription.ID <= 0 || addr.Subscription.Secret == "" ||
		addr.Subscription.URL != "https://shop.example/ipn" || addr.Subscription.MaxConfirms != 3 {
		t.Fatalf("POST /addresses: %d %s\nwant 200, btc %s at index 1010 with its subscription", status, body, want)
	}

	node := s.node.For(t)
	node.Pay(btcdtest.Output{Address: want, Amount: paid})
	node.Generate(1)
	type balance struct {
		Chain             string `json:"chain"`
		Address           string `json:"address"`
		Confirmed         string `json:"confirmed"`
		Unconfirmed       string `json:"unconfirmed"`
		ConfirmedAtomic   string `json:"confirmed_atomic"`
		UnconfirmedAtomic string `json:"unconfirmed_atomic"`
		MaxConfirms       int    `json:"max_confirms"`
		Transactions      []any  `json:"transactions"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := curl(t, s, lines[1])
		var bal balance
		decode(t, body, &bal)
		if status != http.StatusOK || bal.Chain != "btc" || bal.Address != want || bal.MaxConfirms != 1 {
			t.Fatalf("GET /balance: %d %s", status, body)
		}
		if bal.Confirmed == "0.12345678" && bal.ConfirmedAtomic == "12345678" && bal.Unconfirmed == "0.00000000" &&
			bal.UnconfirmedAtomic == "0" && len(bal.Transactions) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /balance after paying %d sat and mining a block: %s", paid, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// curl runs one curl line of the README as printed; CURL_HOME's .curlrc
// makes curl print the HTTP status after the body.
func curl(t *testing.T, s *session, line string) (int, string) {
	t.Helper()
	r := sh(t, s.dir, s.env, time.Minute, line)
	out := strings.TrimRight(r.stdout, "\n")
	i := strings.LastIndex(out, "\n")
	var status int
	if r.code != 0 || i < 0 {
		t.Fatalf("%s", r)
	}
	fmt.Sscan(out[i+1:], &status)
	t.Logf("$ %s\n%s\n(HTTP %d)", line, out[:i], status)
	return status, out[:i]
}

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
}

// runDemo runs `make demo` as printed in its own copy of the repository:
// both chains, ipnd, the receiver; both payments end confirmed in the
// balance and the IPNs, none rejected, and both invoices paid with their
// checkout pages printed.
func runDemo(t *testing.T, _ *session, b Block) {
	if _, err := btcdtest.LookBinary(); err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	if _, _, err := monerotest.Binaries(); err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	lines := b.Commands()
	if len(lines) != 1 || lines[0] != "make demo" {
		t.Fatalf("the demo example is %q, this test runs make demo: update runDemo", lines)
	}
	r := sh(t, sandbox(t), commandEnv(), 5*time.Minute, lines[0])
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	for _, re := range []string{
		`(?m)BTC \S+: paid (\d+\.\d{8}) BTC; balance confirmed (\d+\.\d{8}), unconfirmed 0\.00000000; IPNs \(confirmed/unconfirmed\): 0\.00000000/\d+\.\d{8} → `,
		`(?m)XMR \S+: paid (\d+\.\d{12}) XMR; balance confirmed (\d+\.\d{12}), unconfirmed 0\.000000000000; IPNs \(confirmed/unconfirmed\): `,
		`(?m)\d+ IPNs acknowledged, 0 rejected`,
		`(?m)BTC invoice inv_[a-z2-7]{26} paid; checkout page: http://127\.0\.0\.1:\d+/pay/inv_[a-z2-7]{26}$`,
		`(?m)XMR invoice inv_[a-z2-7]{26} paid; checkout page: http://127\.0\.0\.1:\d+/pay/inv_[a-z2-7]{26}$`,
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(r.stdout)
		if m == nil || (len(m) > 2 && m[1] != m[2]) {
			t.Errorf("make demo's output lacks %s (or the balance differs from the payment):\n%s", re, r)
		}
	}
}

// writeEditor writes the $EDITOR of the quick start: a sed script that
// replaces each line of settings.example.toml (in its section) by the
// edited one, and fails when a line is not there.
func writeEditor(t *testing.T, edits map[string][2]string) string {
	t.Helper()
	var script strings.Builder
	script.WriteString("#!/bin/sh\n# The README test's $EDITOR: the quick start's edits of settings.toml.\nset -eu\nf=$1\n")
	for key, e := range edits {
		section, _, _ := strings.Cut(key, ".")
		fmt.Fprintf(&script, "grep -qxF %s \"$f\" || { echo 'settings.toml has no line %s (%s)' >&2; exit 1; }\n",
			shQuote(e[0]), strings.ReplaceAll(e[0], "'", ""), key)
		fmt.Fprintf(&script, "sed -i '/^\\[%s\\]$/,/^\\[/ s|^%s$|%s|' \"$f\"\n", section, sedPattern(e[0]), sedReplacement(e[1]))
	}
	path := filepath.Join(t.TempDir(), "editor")
	if err := os.WriteFile(path, []byte(script.String()), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

// sedPattern and sedReplacement quote s for a sed s||| command inside
// single quotes (the values here hold no quote, | or newline).
func sedPattern(s string) string {
	return strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `.`, `\.`, `*`, `\*`, `^`, `\^`, `$`, `\$`).Replace(s)
}

func sedReplacement(s string) string { return strings.NewReplacer(`\`, `\\`, `&`, `\&`).Replace(s) }

// checkEdits reads settings.toml back: each edited key has its new value
// in its section.
func checkEdits(t *testing.T, path string, edits map[string][2]string) {
	t.Helper()
	var file map[string]map[string]any
	if _, err := toml.DecodeFile(path, &file); err != nil {
		t.Fatalf("settings.toml after the edits: %v", err)
	}
	for key, e := range edits {
		section, name, _ := strings.Cut(key, ".")
		var want map[string]any
		if _, err := toml.Decode(e[1], &want); err != nil {
			t.Fatal(err)
		}
		if got := file[section][name]; !reflect.DeepEqual(got, want[name]) {
			t.Errorf("after $EDITOR, %s = %v, want %v (settings.example.toml changed: update the quick start's edits)", key, got, want[name])
		}
	}
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func matchAll(out string, want []string) bool {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(want) {
		return false
	}
	for i, w := range want {
		if !regexp.MustCompile("^" + w + "$").MatchString(lines[i]) {
			return false
		}
	}
	return true
}

// regtestTPub is a fresh regtest account key's public half.
func regtestTPub(t *testing.T) string {
	seed := []byte(randomHex(16))
	k, err := hdkeychain.NewMaster(seed, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	return pub.String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
