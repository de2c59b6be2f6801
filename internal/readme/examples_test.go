package readme

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/internal/testenv"
)

// runBy names, for each example that a test other than the runners of
// exampleRunners (run_test.go) runs as printed, the test: "TestName",
// "pkg.TestName" for a test of another package (its directory), several
// separated by ", ", each with an optional "(note)". Adding an example to a
// document means adding a runner to exampleRunners, or a test here, or the
// example to notRunYet.
var runBy = map[string]string{
	"litecoin-derive-config":   "TestDeriveExamplesAsPrinted, TestTOMLExamplesLoad",
	"litecoin-derive":          "TestDeriveExamplesAsPrinted",
	"descriptor-config":        "TestDeriveExamplesAsPrinted, TestTOMLExamplesLoad",
	"descriptor-derive":        "TestDeriveExamplesAsPrinted",
	"multisig-config":          "TestDeriveExamplesAsPrinted, TestTOMLExamplesLoad",
	"multisig-derive":          "TestDeriveExamplesAsPrinted",
	"first-index":              "TestTOMLExamplesLoad, chains/bitcoin.TestPrepareIndexesLitecoind (what first_index does)",
	"litecoin-conf":            "TestLitecoinNodeExamplesAsPrinted",
	"litecoin-config":          "TestLitecoinNodeExamplesAsPrinted, TestTOMLExamplesLoad",
	"bad-config":               "TestBadConfigExample",
	"bad-config-output":        "TestBadConfigExample",
	"config-env":               "TestConfigEnvExample",
	"mysql-setup":              "TestMySQLSetupAsPrinted",
	"mysql-config":             "TestMySQLSetupAsPrinted, TestTOMLExamplesLoad",
	"mysql-config-socket":      "TestMySQLSetupAsPrinted, TestTOMLExamplesLoad",
	"bitcoin-cookie-config":    "TestTOMLExamplesLoad (config loader; check-config pending)",
	"btcd-config":              "TestTOMLExamplesLoad (config loader; check-config pending)",
	"bitcoind-zmq-config":      "TestTOMLExamplesLoad (config loader; check-config pending)",
	"monero-config":            "TestTOMLExamplesLoad (config loader; check-config pending)",
	"python-receiver":          "ipn.TestReadmePythonReceiver (two orders with one secret and a rotation)",
	"ipn-body":                 "ipn.TestReadmeIPNBody",
	"endpoint-rotate":          "api.TestReadmeEndpointRotation (curl through sh with KEY and API)",
	"endpoint-rotate-answer":   "api.TestReadmeEndpointRotation",
	"api-unknown-field-answer": "TestExamplesAsPrinted (the answer the api-unknown-field runner gets)",
	"test-receiver-report":     "TestExamplesAsPrinted (the report the test-receiver runner gets)",
	"invoice-create":           "api.TestReadmeInvoices (the block through sh with KEY and API)",
	"invoice-create-answer":    "api.TestReadmeInvoices",
	"invoices-config":          "api.TestReadmeInvoices, TestTOMLExamplesLoad",
	"invoice-ipn":              "ipn.TestReadmeInvoiceIPN",
	"invoice-read":             "api.TestReadmeInvoices (each curl through sh with KEY API and ID set)",
	"readyz-stale":             "api.TestReadmeReadyzStale",
	"retention-config":         "TestTOMLExamplesLoad",
	"metrics-listen-config":    "TestTOMLExamplesLoad",
	"systemd-install":          "TestInstallStepsAsPrinted, TestUnitInstallCommentMatchesGuide",
	"upgrade":                  "TestInstallStepsAsPrinted",
}

// notRunYet lists the examples no test runs as printed yet, with what
// would run them. Each stream that adds a runner moves its names to runBy.
var notRunYet = map[string]string{
	"go-receiver":        "ipn.ExampleVerify runs a copy of it, not the block as printed (ipn stream)",
	"bitcoind-cookie":    "rpccookieperms is Bitcoin Core 28's; Litecoin Core 0.21, the Core node that runs here, lacks it (its litecoin.conf runs: TestLitecoinNodeExamplesAsPrinted)",
	"bitcoind-zmq":       "Bitcoin Core's ZMQ does not run here (Bitcoin stream: tested against a local publisher)",
	"btcd-conf":          "btcd regtest with this config file (Bitcoin stream)",
	"monerod":            "monerod regtest with these flags (Monero stream)",
	"monero-view-wallet": "monero-wallet-cli is interactive; checked by hand on 0.18 (Monero stream)",
	"monero-wallet-rpc":  "wallet-rpc regtest with these flags; checked by hand on 0.18 (Monero stream)",
}

// Every fenced block of README.md and docs/*.md is a named example, and
// every example is either run by a test or listed with what will run it.
func TestEveryExampleIsAccountedFor(t *testing.T) {
	blocks := repoBlocks(t)
	seen := map[string]Block{}
	for _, b := range blocks {
		if b.Name == "" {
			t.Errorf("%s: a fenced block without a marker: put <!-- example: NAME --> on the line before it "+
				"and add NAME to runBy or notRunYet in internal/readme/examples_test.go", b.Where())
			continue
		}
		if prev, dup := seen[b.Name]; dup {
			t.Errorf("%s: the name is used at %s too", b.Where(), prev.Where())
		}
		seen[b.Name] = b
		_, byTest := runBy[b.Name]
		_, pending := notRunYet[b.Name]
		ways := 0
		for _, r := range []bool{byTest, pending, runners[b.Name]} {
			if r {
				ways++
			}
		}
		switch {
		case ways > 1:
			t.Errorf("%s is listed more than once in exampleRunners, runBy and notRunYet", b.Name)
		case ways == 0:
			t.Errorf("%s: no test runs this example: add a runner to exampleRunners (run_test.go), or its test to runBy, "+
				"or it to notRunYet with the reason", b.Where())
		}
	}
	for name := range runners {
		if _, ok := seen[name]; !ok {
			t.Errorf("exampleRunners runs %s but no document has it", name)
		}
	}
	for _, list := range []map[string]string{runBy, notRunYet} {
		for name := range list {
			if _, ok := seen[name]; !ok {
				t.Errorf("%s is listed but no document has it", name)
			}
		}
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for name, tests := range runBy {
		for _, test := range strings.Split(tests, ", ") {
			test, _, _ = strings.Cut(test, " (")
			if err := testExists(root, test); err != nil {
				t.Errorf("runBy[%q]: %v", name, err)
			}
		}
	}
	var pending []string
	for name, why := range notRunYet {
		pending = append(pending, seen[name].Where()+": "+why)
	}
	sort.Strings(pending)
	t.Logf("examples not run as printed yet:\n%s", strings.Join(pending, "\n"))
}

// runners are the names exampleRunners runs.
var runners = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range exampleRunners {
		m[r.name] = true
	}
	return m
}()

// testExists finds "func TestName(" in the test files of this package, or
// of the package directory dir for "dir.TestName".
func testExists(root, test string) error {
	dir, name := "internal/readme", test
	if d, n, ok := strings.Cut(test, "."); ok {
		dir, name = strings.ReplaceAll(d, ".", "/"), n
	}
	files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(dir), "*_test.go"))
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "\nfunc "+name+"(t *testing.T)") {
			return nil
		}
	}
	return fmt.Errorf("no test %s in %s", name, dir)
}

// Every TOML example loads through the configuration loader: an unknown
// key (a typo, or a key that does not exist yet) fails, as does any
// invalid value. An example may name keys that are planned but not there
// yet with planned=section.key,...; exactly those must then be unknown, so
// the example is flagged the day the key arrives.
func TestTOMLExamplesLoad(t *testing.T) {
	n := 0
	for _, b := range repoBlocks(t) {
		if b.Lang != "toml" || b.Name == "bad-config" {
			continue
		}
		n++
		if err := loadExample(t, b); err != nil {
			t.Error(err)
		}
	}
	if n < 5 {
		t.Errorf("only %d TOML examples found; the parser lost some", n)
	}
}

// loadExample loads a TOML example with config.Load and checks it against
// its planned attribute.
func loadExample(t *testing.T, b Block) error {
	path := filepath.Join(t.TempDir(), "example.toml")
	if err := os.WriteFile(path, []byte(b.Text), 0o600); err != nil {
		t.Fatal(err)
	}
	var planned []string
	if p := b.Attrs["planned"]; p != "" {
		planned = strings.Split(p, ",")
		sort.Strings(planned)
	}
	_, err := config.Load(path, true, nil)
	var probs config.Problems
	if err != nil && !errors.As(err, &probs) {
		return err
	}
	var unknown, other []string
	for _, p := range probs {
		if strings.HasPrefix(p.Msg, "unknown key") {
			unknown = append(unknown, p.Key)
		} else {
			other = append(other, p.Error())
		}
	}
	sort.Strings(unknown)
	if len(other) > 0 {
		return errors.New(b.Where() + ": " + strings.Join(other, "; "))
	}
	if !reflect.DeepEqual(unknown, planned) {
		return errors.New(b.Where() + ": unknown keys " + strings.Join(unknown, ",") + ", planned=" + strings.Join(planned, ",") +
			" (a planned key that now exists: drop it from the marker and the word \"planned\" from the text)")
	}
	return nil
}

func TestPlannedKeysAreChecked(t *testing.T) {
	b := Block{File: "x.md", Line: 1, Name: "x", Lang: "toml", Text: "[bitcoin]\nzmq_rawtx_for_test = \"tcp://127.0.0.1:1\"\n",
		Attrs: map[string]string{"planned": "bitcoin.zmq_rawtx_for_test"}}
	if err := loadExample(t, b); err != nil {
		t.Errorf("a planned key that is unknown: %v", err)
	}
	b.Attrs = nil
	if err := loadExample(t, b); err == nil || !strings.Contains(err.Error(), "unknown keys bitcoin.zmq_rawtx_for_test") {
		t.Errorf("an unknown key not marked planned must fail: %v", err)
	}
	b.Text, b.Attrs = "[bitcoin]\ngap_limit = 5\n", map[string]string{"planned": "bitcoin.gap_limit"}
	if err := loadExample(t, b); err == nil || !strings.Contains(err.Error(), "now exists") {
		t.Errorf("a key marked planned that exists must fail: %v", err)
	}
	b.Text, b.Attrs = "[ipn]\nworkers = 0\n", nil
	if err := loadExample(t, b); err == nil || !strings.Contains(err.Error(), "ipn.workers: must be between") {
		t.Errorf("an invalid value must fail: %v", err)
	}
}

// The README's environment example, run by sh as printed, gives variables
// the loader accepts with the values shown.
func TestConfigEnvExample(t *testing.T) {
	b := example(t, repoBlocks(t), "config-env")
	cmd := exec.Command("sh", "-e", "-c", b.Text+"\nenv\n")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	var env []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, config.EnvPrefix) {
			env = append(env, l)
		}
	}
	if len(env) != 4 {
		t.Fatalf("want the 4 variables of the example, got %q", env)
	}
	cfg, err := config.Load(filepath.Join(t.TempDir(), "absent.toml"), false, env)
	if err != nil {
		t.Fatalf("the README's variables do not load: %v", err)
	}
	if cfg.Database.Driver != "mysql" || cfg.Database.DSN.Reveal() != "ipnd:secret@tcp(127.0.0.1:3306)/ipnd" ||
		cfg.Bitcoin.RPCPassword.Reveal() != "secret" || len(cfg.Server.APIKeys) != 2 ||
		cfg.Server.APIKeys[1].Reveal() != "key-two-0123456789" {
		t.Errorf("values not as printed: %s", cfg.Render())
	}
}

// The README's bad.toml gives exactly the lines the README prints, in order,
// from ipnd check-config, with exit status 2.
func TestBadConfigExample(t *testing.T) {
	blocks := repoBlocks(t)
	file, output := example(t, blocks, "bad-config"), example(t, blocks, "bad-config-output")
	lines := output.Lines()
	const prompt = "$ ipnd check-config -config bad.toml"
	if lines[0] != prompt || !strings.HasPrefix(file.Text, "# bad.toml\n") {
		t.Fatalf("the example must show %q for a file starting with # bad.toml; got %q", prompt, lines[0])
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.toml"), []byte(file.Text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := sh(t, dir, commandEnv(), time.Minute, ipndBinary(t)+strings.TrimPrefix(lines[0], "$ ipnd"))
	if r.code != 2 || r.stdout != "" {
		t.Errorf("%s\nwant exit 2 and nothing on standard output", r)
	}
	if got := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n"); !reflect.DeepEqual(got, lines[1:]) {
		t.Errorf("the README prints\n%s\nipnd check-config says\n%s", strings.Join(lines[1:], "\n"), r.stderr)
	}
}
