// Package btcdtest runs real btcd regtest nodes for integration tests: it
// starts btcd (v0.26.x, from $IPND_BTCD or <repo>/bin/btcd) on free loopback
// ports in a temporary directory, mines, pays addresses with transactions
// built and signed in Go, makes double spends and reorgs (invalidateblock,
// two-node split and reconnect, a stale tip both of whose blocks hold the
// same payment), fills the mempool with many transactions (FillMempool),
// pauses (SIGSTOP) and restarts the node, with or without its chain.
//
// A missing binary skips the test, or fails it when IPND_REQUIRE_INTEGRATION=1.
// The harness takes a TB, which *testing.T and *testing.B satisfy; a program
// that is not a test (the demo) can implement it too. Shared gives the tests
// of a package one node started on first use (call CloseShared in TestMain).
//
// Policy of the nodes it starts: btcd's defaults (minimum relay fee 1 sat/vB,
// no ancestor or mempool size limit, orphans refused over RPC) plus
// --norelaypriority and a free-relay limit no test reaches, so transactions
// without a fee are accepted over RPC; btcd's block template leaves them
// out (it takes fee-less transactions only on coin-age priority, which
// theirs never reach), so they stay in the mempool.
package btcdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/rpcclient"

	"github.com/ipnd/ipnd/internal/testenv"
)

// Params are regtest's chain parameters.
var Params = &chaincfg.RegressionNetParams

// Fee is the fee of every transaction Pay, Build and Conflicting build
// (btcd's minimum relay fee is 1000 sat/kvB; these transactions are under
// 250 vbytes).
const Fee = 2000

// TB is what the harness needs of its caller: the methods of testing.TB it
// calls. Fatal and Fatalf must not return (testing's call runtime.Goexit).
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
	TempDir() string
}

// LookBinary returns the btcd binary's path: $IPND_BTCD, else
// <repo>/bin/btcd (the repository holding the working directory).
func LookBinary() (string, error) {
	path := os.Getenv("IPND_BTCD")
	if path == "" {
		if root, err := testenv.RepoRoot(); err == nil {
			path = filepath.Join(root, "bin", "btcd")
		}
	}
	if path != "" {
		if st, err := os.Stat(path); err == nil && !st.IsDir() {
			return path, nil
		}
	}
	return "", fmt.Errorf("btcd binary not found (set IPND_BTCD or build <repo>/bin/btcd with `make`; looked at %q)", path)
}

// Binary returns the btcd binary's path, or skips (fails when
// IPND_REQUIRE_INTEGRATION=1) the test when there is none.
func Binary(tb TB) string {
	tb.Helper()
	path, err := LookBinary()
	if err == nil {
		return path
	}
	if testenv.Required() {
		tb.Fatal(err.Error())
	}
	tb.Skip(err.Error())
	return ""
}

// Node is one running btcd. Its methods fail the test they were called
// for: the one that started the node, or the one For names.
type Node struct {
	RPC     *rpcclient.Client // HTTP POST mode; lives as long as the Node, across restarts
	RPCHost string            // 127.0.0.1:port
	P2P     string            // 127.0.0.1:port
	User    string
	Pass    string
	Dir     string
	Wallet  *Wallet

	tb TB
	*proc
}

// proc is the state of a node shared by every view of it (see For).
type proc struct {
	bin  string
	args []string // extra btcd arguments (Options.Args)

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	coinMu sync.Mutex
	cursor int64 // next height whose coinbase Pay may try (under coinMu)
}

// Options for Start.
type Options struct {
	Wallet *Wallet  // shared funding key; a new one when nil
	Args   []string // extra btcd arguments, e.g. "--blockmaxweight=4000000"
}

// Start runs a btcd regtest node; tb.Cleanup stops it.
func Start(tb TB, o Options) *Node {
	tb.Helper()
	bin := Binary(tb)
	if o.Wallet == nil {
		o.Wallet = NewWallet(tb)
	}
	n := &Node{tb: tb, Wallet: o.Wallet, User: "ipnd", Pass: "regtest-pass", Dir: tb.TempDir(),
		proc: &proc{bin: bin, args: o.Args, cursor: 1}}
	n.RPCHost = freePort(tb)
	n.P2P = freePort(tb)
	rpc, err := rpcclient.New(&rpcclient.ConnConfig{
		Host: n.RPCHost, User: n.User, Pass: n.Pass, HTTPPostMode: true, DisableTLS: true,
	}, nil)
	if err != nil {
		tb.Fatalf("rpc client: %v", err)
	}
	n.RPC = rpc
	tb.Cleanup(func() { n.Stop(); rpc.Shutdown() })
	n.start()
	return n
}

// For returns a view of n whose methods fail tb instead of the test that
// started the node: for a node shared by several tests (Shared does it).
// The views share the process, the RPC client and the coin cursor.
func (n *Node) For(tb TB) *Node {
	v := *n
	v.tb = tb
	return &v
}

// freePort reserves a loopback port for this test process
// (testenv.ReservePort: outside the ephemeral range, never handed to another
// test process) and returns 127.0.0.1:PORT.
func freePort(tb TB) string {
	p, err := testenv.ReservePort()
	if err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// start runs btcd (a fresh chain: --regtest wipes its database) and waits
// until its RPC server answers.
func (n *Node) start() {
	tb := n.tb
	tb.Helper()
	home := filepath.Join(n.Dir, "home")
	_ = os.MkdirAll(home, 0o700)
	args := []string{
		"--configfile=/dev/null", "--regtest",
		"--datadir=" + filepath.Join(n.Dir, "data"), "--logdir=" + filepath.Join(n.Dir, "logs"),
		"--rpcuser=" + n.User, "--rpcpass=" + n.Pass, "--rpclisten=" + n.RPCHost, "--notls",
		"--listen=" + n.P2P, "--miningaddr=" + n.Wallet.Address.EncodeAddress(), "--txindex",
		// Fee-less transactions over RPC (FillMempool's default): no priority
		// check, and btcd's free-relay rate limit (15 kB/min, which RPC
		// submissions count against too) out of reach.
		"--norelaypriority", "--limitfreerelay=1000000",
	}
	args = append(args, n.args...)
	cmd := exec.Command(n.bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdout, cmd.Stderr = nil, nil
	// btcd dies with the test or demo that started it, even on SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start btcd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := n.RPC.GetBlockCount(); err == nil {
			return
		} else if time.Now().After(deadline) {
			tb.Fatalf("btcd not ready after 30s: %v\n%s", err, n.LogTail())
		}
		select {
		case <-exited:
			tb.Fatalf("btcd exited at start\n%s", n.LogTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// LogTail returns the end of btcd's log, for failure messages.
func (n *Node) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "logs", "regtest", "btcd.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop kills the node and waits for it to exit (a paused node too). It is
// idempotent; Restart starts it again.
func (n *Node) Stop() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

// Running reports whether the node's process is running (or paused).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}
