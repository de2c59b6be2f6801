package readme

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/internal/testenv"
)

// The README's derive examples: each file example (first line "# NAME")
// written as NAME, the command of its output example ("$ ipnd derive
// -config NAME …") run with the real binary, and exactly the lines shown
// printed.
func TestDeriveExamplesAsPrinted(t *testing.T) {
	blocks := repoBlocks(t)
	for _, pair := range [][2]string{
		{"litecoin-derive-config", "litecoin-derive"},
		{"descriptor-config", "descriptor-derive"},
		{"multisig-config", "multisig-derive"},
	} {
		t.Run(pair[1], func(t *testing.T) {
			file, output := example(t, blocks, pair[0]), example(t, blocks, pair[1])
			name, ok := strings.CutPrefix(file.Lines()[0], "# ")
			if !ok {
				t.Fatalf("%s must start with # FILENAME", file.Where())
			}
			lines := output.Lines()
			if !strings.HasPrefix(lines[0], "$ ipnd derive -config "+name+" ") {
				t.Fatalf("%s must start with $ ipnd derive -config %s", output.Where(), name)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), []byte(file.Text), 0o600); err != nil {
				t.Fatal(err)
			}
			r := sh(t, dir, commandEnv(), time.Minute, ipndBinary(t)+strings.TrimPrefix(lines[0], "$ ipnd"))
			if r.code != 0 || r.stderr != "" || r.stdout != strings.Join(lines[1:], "\n")+"\n" {
				t.Errorf("%s\nthe document prints\n%s", r, strings.Join(lines[1:], "\n"))
			}
		})
	}
}

// The operator guide's litecoin.conf runs litecoind as printed (regtest
// and its ports on the command line), its rpcauth line lets the user ipnd
// in with the password "secret", and its [litecoin] section, pointed at
// that node (network, rpc_host and a regtest key changed, as an operator
// edits them), passes ipnd check-config -connect.
func TestLitecoinNodeExamplesAsPrinted(t *testing.T) {
	bin := coretest.Binary(t)
	blocks := repoBlocks(t)
	conf, section := example(t, blocks, "litecoin-conf"), example(t, blocks, "litecoin-config")
	dir := t.TempDir()
	confPath := filepath.Join(dir, "litecoin.conf")
	if err := os.WriteFile(confPath, []byte(conf.Text), 0o600); err != nil {
		t.Fatal(err)
	}
	datadir := filepath.Join(dir, "data")
	if err := os.Mkdir(datadir, 0o700); err != nil {
		t.Fatal(err)
	}
	rpc, p2p := testenv.FreeAddr(t), testenv.FreeAddr(t)
	_, rpcPort, _ := net.SplitHostPort(rpc)
	_, p2pPort, _ := net.SplitHostPort(p2p)
	node := exec.Command(bin, "-regtest", "-conf="+confPath, "-datadir="+datadir, "-rpcport="+rpcPort,
		"-port="+p2pPort, "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", "-listen=0",
		"-printtoconsole=0", "-dnsseed=0", "-discover=0")
	node.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { node.Wait(); close(exited) }()
	t.Cleanup(func() {
		node.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			node.Process.Kill()
			<-exited
		}
	})
	// The rpcauth line: user ipnd, password secret.
	deadline := time.Now().Add(time.Minute)
	for {
		code, err := rpcStatus(rpc, "ipnd", "secret")
		if err == nil && code == 200 {
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(datadir, "regtest", "debug.log"))
			t.Fatalf("litecoind exited with the documented litecoin.conf:\n%s", tail(string(log), 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("litecoind does not let ipnd/secret in: HTTP %d, %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := rpcStatus(rpc, "ipnd", "not-the-password"); code != 401 {
		t.Errorf("a wrong password: HTTP %d, want 401", code)
	}

	var parsed map[string]map[string]any
	if _, err := toml.Decode(section.Text, &parsed); err != nil || parsed["litecoin"]["network"] != "mainnet" {
		t.Fatalf("the [litecoin] example: %v %v", parsed, err)
	}
	edited := section.Text
	for _, e := range [][2]string{
		{`network = "mainnet"`, `network = "regtest"`},
		{`rpc_host = "127.0.0.1:9332"`, `rpc_host = "` + rpc + `"`},
		{`xpub = "zpub6r…"`, `xpub = "` + regtestTPub(t) + `"`},
	} {
		if !strings.Contains(edited, e[0]) {
			t.Fatalf("the [litecoin] example has no line %s", e[0])
		}
		edited = strings.Replace(edited, e[0], e[1], 1)
	}
	settings := filepath.Join(dir, "settings.toml")
	if err := os.WriteFile(settings, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	env := commandEnv("IPND_SERVER_API_KEYS=readme-test-key-0123456789", "IPND_DATABASE_DSN="+filepath.Join(dir, "ipnd.db"))
	r := sh(t, dir, env, time.Minute, ipndBinary(t)+" check-config -connect -config settings.toml")
	want := []string{
		`ok    litecoin node ` + regexp.QuoteMeta(rpc) + `: answers \(chain "regtest", 0 blocks(, still syncing: 0 headers)?, pruned\)`, // a fresh regtest chain is in IBD
		`ok    litecoin network: regtest \(genesis block ` + coretest.GenesisRegtest + `\)`,
	}
	if r.code != 0 || !hasLines(r.stdout, want) {
		t.Errorf("%s\nwant lines matching\n%s", r, strings.Join(want, "\n"))
	}
}

// rpcStatus posts getblockcount with basic auth and returns the status.
func rpcStatus(host, user, pass string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+"/",
		bytes.NewReader([]byte(`{"jsonrpc":"1.0","id":1,"method":"getblockcount","params":[]}`)))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(user, pass)
	req.Close = true // no idle connection: litecoind's stop would wait for it
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// hasLines reports whether each pattern matches a whole line of out.
func hasLines(out string, patterns []string) bool {
	lines := strings.Split(out, "\n")
	for _, p := range patterns {
		re := regexp.MustCompile("^" + p + "$")
		found := false
		for _, l := range lines {
			found = found || re.MatchString(l)
		}
		if !found {
			return false
		}
	}
	return true
}
