// Package coretest runs real Bitcoin Core-family regtest nodes for
// integration tests. Today that is Litecoin Core: Debian's `litecoind`
// 0.21.2 (apt-get install litecoind), whose RPC is Bitcoin Core 0.21's, the
// one Core code base that runs on the project's machines.
//
// Start runs `litecoind -regtest` in a temporary data directory on free
// loopback ports, with user/password or cookie auth, optional -prune=550 and
// -txindex (off by default: ipnd must work without it), waits until its RPC
// answers (polling, with a deadline) and creates a wallet that mines and
// pays (createwallet, getnewaddress, generatetoaddress, sendtoaddress). The
// node dies with the test process, even on SIGKILL. Helpers mine, pay,
// reorg (invalidateblock/reconsiderblock), fetch raw blocks and transactions,
// derive descriptor addresses, restart (new cookie), stop (measuring how
// long the process took to exit), pause with SIGSTOP, connect two nodes, and
// drive the chain past MWEB activation (ActivateMWEB).
//
// One node per test package is the norm: Shared starts it at the first test
// that needs it and Main (from TestMain) stops it. Start gives a test its
// own node, stopped by t.Cleanup.
//
// A missing litecoind skips the test, or fails it under make test
// (IPND_REQUIRE_INTEGRATION=1), through testenv.Unavailable.
//
// Facts verified against litecoind 0.21.2.1 regtest (see the package's
// tests, which assert them):
//   - genesis block hashes as the node reports them (getblockhash 0):
//     GenesisRegtest, GenesisTestnet4, GenesisMainnet (the latter two equal
//     ltcd's chaincfg);
//   - MWEB (BIP9 bit 4, 144-block windows) is started at 144, locked in at
//     288 and active from height 432 (MWEBActivationHeight); block 432 cannot
//     be mined without a peg-in (a payment to a `getnewaddress "" mweb`
//     address, regtest HRP "tmweb") in the mempool: CreateNewBlock fails
//     with bad-txns-vin-empty;
//   - from 432 on every block's last transaction is the HogEx (segwit-style
//     flag byte 0x08) and extension-block data follows the transaction
//     list; a peg-in in the mempool has flag byte 0x09. btcd's wire rejects
//     all three ("witness tx but flag byte is 08/09"); ltcd v0.23.6's wire
//     decodes them, with txids and block hashes equal to the node's;
//   - the wallet pays an MWEB address from its MWEB coins when they suffice
//     (an MWEB-only transaction, flag 0x08 in the mempool, no canonical
//     inputs or outputs) and keeps a peg-in's change in the MWEB: see PegIn;
//   - Core 0.21's HTTP server waits for open keep-alive connections when it
//     stops, up to -rpcservertimeout (30 s by default): stop took 0.18 s
//     without and 30.1 s with one idle connection open.
//
// Costs on 2 shared cores (BenchmarkLitecoind): Start (process start to RPC
// ready, wallet created) 0.6 s, RSS 63 MiB; generatetoaddress 101 0.12 s;
// ActivateMWEB from genesis 1.6 s (RSS 71 MiB after).
package coretest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/internal/testenv"
)

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

// BinaryEnv names another litecoind binary; by default litecoind is found
// on PATH (Debian installs it in /usr/bin). IPND_TEST_* variables are
// reserved for tests (config.Load ignores them).
const BinaryEnv = "IPND_TEST_LITECOIND"

// LookBinary returns litecoind's path: $IPND_TEST_LITECOIND, else
// litecoind on PATH.
func LookBinary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Errorf("%s=%q is not a file", BinaryEnv, p)
		}
		return p, nil
	}
	p, err := exec.LookPath("litecoind")
	if err != nil {
		return "", fmt.Errorf("litecoind not found on PATH (install Debian's litecoind: apt-get install -y litecoind, or set %s)", BinaryEnv)
	}
	return p, nil
}

// LookCLI returns litecoin-cli's path: the one next to litecoind, else
// litecoin-cli on PATH.
func LookCLI() (string, error) {
	if d, err := LookBinary(); err == nil {
		p := filepath.Join(filepath.Dir(d), "litecoin-cli")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("litecoin-cli")
	if err != nil {
		return "", fmt.Errorf("litecoin-cli not found (it comes with Debian's litecoind)")
	}
	return p, nil
}

// Binary returns litecoind's path, or skips the test (fails it when
// IPND_REQUIRE_INTEGRATION=1) when there is none.
func Binary(tb TB) string {
	tb.Helper()
	path, err := LookBinary()
	if err == nil {
		return path
	}
	unavailable(tb, err)
	return ""
}

func unavailable(tb TB, err error) {
	tb.Helper()
	if t, ok := tb.(testing.TB); ok {
		testenv.Unavailable(t, "%v", err)
		return
	}
	if testenv.Required() {
		tb.Fatal(err.Error())
	}
	tb.Skip(err.Error())
}

// Auth selects how RPC clients authenticate.
type Auth int

const (
	// AuthPassword: -rpcuser/-rpcpassword (Node.User, Node.Pass).
	AuthPassword Auth = iota
	// AuthCookie: no user/password; the node writes a fresh random cookie
	// to Node.CookiePath at every start.
	AuthCookie
)

// Options for Start and Shared.
type Options struct {
	Auth Auth
	// Prune adds -prune=550 (the minimum). On regtest 0.21 never actually
	// prunes (550 MiB, 288 blocks kept; no -fastprune), but the node
	// reports pruned=true and behaves as a pruned node in its RPC.
	Prune bool
	// TxIndex adds -txindex. Off by default: without it getrawtransaction
	// finds mempool transactions, and confirmed ones only with a block hash.
	// The node refuses -txindex together with -prune.
	TxIndex bool
	// FallbackFee is -fallbackfee in coins per kvB; "0.0001" when empty
	// (regtest has no fee estimates, sendtoaddress needs it).
	FallbackFee string
	// Args are extra litecoind arguments.
	Args []string
}

// WalletName is the wallet Start creates (loaded again on restart).
const WalletName = "coretest"

// Node is one running litecoind -regtest. Its fields do not change over
// restarts (same ports, same data directory); the cookie does (Cookie).
// Methods report failures to the TB the node was started with or bound to
// by With, and do not return after one.
type Node struct {
	RPCHost    string // 127.0.0.1:port of the JSON-RPC server
	P2P        string // 127.0.0.1:port of the P2P listener
	User, Pass string // AuthPassword only; empty with cookie auth
	Dir        string // -datadir; regtest files are in Dir/regtest
	CookiePath string // Dir/regtest/.cookie (written only with AuthCookie)
	Options    Options

	// MiningAddress is a bech32 (rltc1…) address of the wallet WalletName;
	// Generate mines to it.
	MiningAddress string

	RPC    *Client // node endpoint
	Wallet *Client // wallet endpoint /wallet/coretest

	tb TB
	p  *proc
}

// With returns a view of n whose methods report failures to tb: a node
// shared by several tests reports to the test calling it.
func (n *Node) With(tb TB) *Node {
	v := *n
	v.tb = tb
	return &v
}

// Start runs a litecoind regtest node with a funded-to-be wallet (call
// Fund for mature coins); tb.Cleanup stops it.
func Start(tb TB, o Options) *Node {
	tb.Helper()
	bin := Binary(tb)
	n := &Node{tb: tb, Dir: tb.TempDir(), Options: o}
	n.p = &proc{bin: bin}
	tb.Cleanup(func() { n.Stop() })
	n.launch(true)
	n.createWallet()
	return n
}

func freePort(tb TB) string {
	tb.Helper()
	p, err := testenv.ReservePort()
	if err != nil {
		tb.Fatalf("free loopback port: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
}

func port(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

func (n *Node) args() []string {
	o := n.Options
	fee := o.FallbackFee
	if fee == "" {
		fee = "0.0001"
	}
	a := []string{
		"-regtest", "-server", "-datadir=" + n.Dir, "-printtoconsole=0",
		"-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", "-rpcport=" + port(n.RPCHost),
		"-listen=1", "-bind=" + n.P2P, "-port=" + port(n.P2P),
		"-discover=0", "-dnsseed=0", "-upnp=0", "-listenonion=0",
		"-fallbackfee=" + fee,
		// 100 keys per pool instead of 1000: createwallet takes 0.15 s, not 1.5 s.
		"-keypool=100",
	}
	if o.Auth == AuthPassword {
		a = append(a, "-rpcuser="+n.User, "-rpcpassword="+n.Pass)
	}
	if o.Prune {
		a = append(a, "-prune=550")
	}
	if o.TxIndex {
		a = append(a, "-txindex=1")
	} else {
		a = append(a, "-txindex=0")
	}
	return append(a, o.Args...)
}

func (n *Node) clients() {
	n.CookiePath = filepath.Join(n.Dir, "regtest", ".cookie")
	n.RPC = &Client{URL: "http://" + n.RPCHost + "/", User: n.User, Pass: n.Pass}
	if n.Options.Auth == AuthCookie {
		n.RPC.User, n.RPC.Pass, n.RPC.CookiePath = "", "", n.CookiePath
	}
	n.Wallet = n.RPC.Wallet(WalletName)
}

// Cookie returns the current cookie's user and password (AuthCookie). It
// changes at every restart.
func (n *Node) Cookie() (user, pass string) {
	n.tb.Helper()
	c := Client{CookiePath: n.CookiePath}
	u, p, err := c.credentials()
	if err != nil {
		n.tb.Fatalf("cookie: %v", err)
	}
	return u, p
}

// Credentials returns what an RPC client authenticates with now: user and
// password, or the current cookie's.
func (n *Node) Credentials() (user, pass string) {
	n.tb.Helper()
	if n.Options.Auth == AuthCookie {
		return n.Cookie()
	}
	return n.User, n.Pass
}

// CLI runs litecoin-cli against the node (with the node's datadir, port
// and credentials) and returns its trimmed output.
func (n *Node) CLI(args ...string) (string, error) {
	cli, err := LookCLI()
	if err != nil {
		return "", err
	}
	a := []string{"-regtest", "-datadir=" + n.Dir, "-rpcconnect=127.0.0.1", "-rpcport=" + port(n.RPCHost)}
	if n.Options.Auth == AuthPassword {
		a = append(a, "-rpcuser="+n.User, "-rpcpassword="+n.Pass)
	}
	out, err := exec.Command(cli, append(a, args...)...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return s, fmt.Errorf("litecoin-cli %s: %w: %s", strings.Join(args, " "), err, s)
	}
	return s, nil
}
