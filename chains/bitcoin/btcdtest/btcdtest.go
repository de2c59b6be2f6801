// Package btcdtest runs real btcd regtest nodes for integration tests: it
// starts btcd (v0.26.x, from $IPND_BTCD or <repo>/bin/btcd) on free loopback
// ports in a temporary directory, mines, pays addresses with transactions
// built and signed in Go, makes double spends and reorgs (invalidateblock,
// two-node split and reconnect) and stops the node again.
//
// A missing binary skips the test, or fails it when IPND_REQUIRE_INTEGRATION=1.
// The harness takes a TB, which *testing.T and *testing.B satisfy; a program
// that is not a test (the demo) can implement it too.
package btcdtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/internal/testenv"
)

// Params are regtest's chain parameters.
var Params = &chaincfg.RegressionNetParams

// Fee is the fee of every transaction the harness builds (btcd's minimum
// relay fee is 1000 sat/kvB; these transactions are under 250 vbytes).
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
	if os.Getenv("IPND_REQUIRE_INTEGRATION") == "1" {
		tb.Fatal(err.Error())
	}
	tb.Skip(err.Error())
	return ""
}

// Wallet is a funding key shared by the nodes of a test: the nodes mine to
// its p2wpkh address and Pay spends its mature coinbases. It remembers the
// outpoints it spent so two nodes never reuse one by accident.
type Wallet struct {
	Key     *btcec.PrivateKey
	Address btcutil.Address
	Script  []byte

	mu   sync.Mutex
	used map[wire.OutPoint]bool
}

// NewWallet makes a wallet with a fresh key.
func NewWallet(tb TB) *Wallet {
	tb.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), Params)
	if err != nil {
		tb.Fatal(err)
	}
	script, _ := txscript.PayToAddrScript(addr)
	return &Wallet{Key: key, Address: addr, Script: script, used: map[wire.OutPoint]bool{}}
}

// Node is one running btcd.
type Node struct {
	RPC     *rpcclient.Client
	RPCHost string // 127.0.0.1:port
	P2P     string // 127.0.0.1:port
	User    string
	Pass    string
	Dir     string
	Wallet  *Wallet

	tb     TB
	bin    string
	cmd    *exec.Cmd
	exited chan struct{}
	cursor int64 // next height whose coinbase Pay may try
}

// Options for Start.
type Options struct {
	Wallet *Wallet // shared funding key; a new one when nil
}

// Start runs a btcd regtest node; t.Cleanup stops it.
func Start(tb TB, o Options) *Node {
	tb.Helper()
	bin := Binary(tb)
	if o.Wallet == nil {
		o.Wallet = NewWallet(tb)
	}
	n := &Node{tb: tb, bin: bin, Wallet: o.Wallet, User: "ipnd", Pass: "regtest-pass", Dir: tb.TempDir(), cursor: 1}
	n.RPCHost = freePort(tb)
	n.P2P = freePort(tb)
	n.start()
	tb.Cleanup(n.Stop)
	return n
}

func freePort(tb TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

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
	}
	cmd := exec.Command(n.bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdout, cmd.Stderr = nil, nil
	// btcd dies with the test or demo that started it, even on SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start btcd: %v", err)
	}
	n.cmd = cmd
	n.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, n.exited)

	rpc, err := rpcclient.New(&rpcclient.ConnConfig{
		Host: n.RPCHost, User: n.User, Pass: n.Pass, HTTPPostMode: true, DisableTLS: true,
	}, nil)
	if err != nil {
		tb.Fatalf("rpc client: %v", err)
	}
	n.RPC = rpc
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := rpc.GetBlockCount(); err == nil {
			return
		} else if time.Now().After(deadline) {
			tb.Fatalf("btcd not ready after 30s: %v\n%s", err, n.LogTail())
		}
		select {
		case <-n.exited:
			tb.Fatalf("btcd exited at start\n%s", n.LogTail())
		case <-time.After(50 * time.Millisecond):
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

// Stop kills the node and waits for it to exit. It is idempotent.
func (n *Node) Stop() {
	if n.cmd == nil {
		return
	}
	if n.RPC != nil {
		n.RPC.Shutdown()
	}
	_ = n.cmd.Process.Kill()
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
	}
	n.cmd = nil
}

// Restart stops the node and starts it again on the same ports. btcd's
// --regtest wipes its database at start: the chain begins again at the
// genesis block (a reorg of everything, to a watcher).
func (n *Node) Restart() {
	n.tb.Helper()
	n.Stop()
	n.cursor = 1
	n.start()
}

// Generate mines count blocks and returns their hashes.
func (n *Node) Generate(count uint32) []*chainhash.Hash {
	n.tb.Helper()
	hs, err := n.RPC.Generate(count)
	if err != nil {
		n.tb.Fatalf("generate %d: %v", count, err)
	}
	return hs
}

// Height is the node's best height.
func (n *Node) Height() int64 {
	n.tb.Helper()
	h, err := n.RPC.GetBlockCount()
	if err != nil {
		n.tb.Fatalf("getblockcount: %v", err)
	}
	return h
}

// BestHash is the node's best block hash.
func (n *Node) BestHash() chainhash.Hash {
	n.tb.Helper()
	h, _, err := n.RPC.GetBestBlock()
	if err != nil {
		n.tb.Fatalf("getbestblock: %v", err)
	}
	return *h
}

// Fund mines 101 blocks so that the first coinbase is spendable.
func (n *Node) Fund() { n.tb.Helper(); n.Generate(101) }

// Output is one output to create.
type Output struct {
	Address string
	Amount  uint64
}

type coin struct {
	op    wire.OutPoint
	value int64
}

// nextCoin finds a mature coinbase of the wallet, unspent on this node and
// not used by the wallet before, and marks it used.
func (n *Node) nextCoin() coin {
	tb := n.tb
	tb.Helper()
	tip := n.Height()
	w := n.Wallet
	for ; n.cursor+100 <= tip+1; n.cursor++ {
		hash, err := n.RPC.GetBlockHash(n.cursor)
		if err != nil {
			tb.Fatalf("getblockhash %d: %v", n.cursor, err)
		}
		blk, err := n.RPC.GetBlock(hash)
		if err != nil {
			tb.Fatalf("getblock %s: %v", hash, err)
		}
		cb := blk.Transactions[0]
		for i, out := range cb.TxOut {
			if !bytes.Equal(out.PkScript, w.Script) {
				continue
			}
			op := wire.OutPoint{Hash: cb.TxHash(), Index: uint32(i)}
			w.mu.Lock()
			used := w.used[op]
			w.mu.Unlock()
			if used {
				continue
			}
			res, err := n.RPC.GetTxOut(&op.Hash, op.Index, true)
			if err != nil || res == nil {
				continue // spent (or unknown) on this node
			}
			w.mu.Lock()
			w.used[op] = true
			w.mu.Unlock()
			n.cursor++
			return coin{op: op, value: out.Value}
		}
	}
	tb.Fatalf("no mature unspent coinbase of the test wallet at height %d (mine more blocks)", tip)
	return coin{}
}

// Build makes and signs (but does not send) a transaction paying outs from
// one mature coinbase, with change back to the wallet. rbf signals BIP125
// replaceability; extraFee adds to Fee (to outbid a conflicting tx).
func (n *Node) Build(outs []Output, rbf bool, extraFee int64) *wire.MsgTx {
	n.tb.Helper()
	return n.buildFrom(n.nextCoin(), outs, rbf, extraFee)
}

func (n *Node) buildFrom(c coin, outs []Output, rbf bool, extraFee int64) *wire.MsgTx {
	tb := n.tb
	tb.Helper()
	w := n.Wallet
	tx := wire.NewMsgTx(2)
	in := wire.NewTxIn(&c.op, nil, nil)
	if rbf {
		in.Sequence = 0xfffffffd
	}
	tx.AddTxIn(in)
	var total int64
	for _, o := range outs {
		a, err := btcutil.DecodeAddress(o.Address, Params)
		if err != nil {
			tb.Fatalf("pay %s: %v", o.Address, err)
		}
		s, err := txscript.PayToAddrScript(a)
		if err != nil {
			tb.Fatalf("pay %s: %v", o.Address, err)
		}
		tx.AddTxOut(wire.NewTxOut(int64(o.Amount), s))
		total += int64(o.Amount)
	}
	change := c.value - total - Fee - extraFee
	if change < 0 {
		tb.Fatalf("coinbase of %d sat cannot pay %d sat + fee", c.value, total)
	}
	if change > 1000 {
		tx.AddTxOut(wire.NewTxOut(change, w.Script))
	}
	fetcher := txscript.NewCannedPrevOutputFetcher(w.Script, c.value)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	wit, err := txscript.WitnessSignature(tx, hashes, 0, c.value, w.Script, txscript.SigHashAll, w.Key, true)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	tx.TxIn[0].Witness = wit
	return tx
}

// Send submits tx to the node's mempool.
func (n *Node) Send(tx *wire.MsgTx) error {
	_, err := n.RPC.SendRawTransaction(tx, true)
	return err
}

// Pay sends one transaction paying outs and returns it.
func (n *Node) Pay(outs ...Output) *wire.MsgTx {
	n.tb.Helper()
	tx := n.Build(outs, false, 0)
	if err := n.Send(tx); err != nil {
		n.tb.Fatalf("sendrawtransaction: %v", err)
	}
	return tx
}

// Conflicting builds two signed transactions spending the same coinbase:
// first pays a, second pays b with a higher fee. Both signal RBF. Neither
// is sent.
func (n *Node) Conflicting(a, b []Output) (first, second *wire.MsgTx) {
	n.tb.Helper()
	c := n.nextCoin()
	return n.buildFrom(c, a, true, 0), n.buildFrom(c, b, true, 3000)
}

// InvalidateBlock marks hash invalid: the node's best chain falls back to
// its parent, its transactions return to the mempool.
func (n *Node) InvalidateBlock(hash chainhash.Hash) {
	n.tb.Helper()
	if err := n.RPC.InvalidateBlock(&hash); err != nil {
		n.tb.Fatalf("invalidateblock %s: %v", hash, err)
	}
}

// Mempool lists the node's mempool txids.
func (n *Node) Mempool() []string {
	n.tb.Helper()
	hs, err := n.RPC.GetRawMempool()
	if err != nil {
		n.tb.Fatalf("getrawmempool: %v", err)
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}

// Connect makes other a persistent peer of n (addnode add) and waits until
// both have the same best block.
func (n *Node) Connect(other *Node) {
	n.tb.Helper()
	if err := n.RPC.AddNode(other.P2P, rpcclient.ANAdd); err != nil {
		n.tb.Fatalf("addnode add: %v", err)
	}
	n.WaitSynced(other)
}

// Disconnect removes the persistent peer other (addnode remove) and waits
// until n has no peers left.
func (n *Node) Disconnect(other *Node) {
	n.tb.Helper()
	if err := n.RPC.AddNode(other.P2P, rpcclient.ANRemove); err != nil {
		n.tb.Fatalf("addnode remove: %v", err)
	}
	n.waitPeers(0)
	other.waitPeers(0)
}

// Reconnect connects n to other once (addnode onetry) and waits until both
// agree on the best block.
func (n *Node) Reconnect(other *Node) {
	n.tb.Helper()
	if err := n.RPC.AddNode(other.P2P, rpcclient.ANOneTry); err != nil {
		n.tb.Fatalf("addnode onetry: %v", err)
	}
	n.WaitSynced(other)
}

func (n *Node) waitPeers(want int) {
	n.tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ps, err := n.RPC.GetPeerInfo()
		if err == nil && len(ps) == want {
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("peers: %d, want %d (%v)", len(ps), want, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitSynced waits until n and other have the same best block.
func (n *Node) WaitSynced(other *Node) {
	n.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n.BestHash() == other.BestHash() {
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("nodes did not sync: %d %s vs %d %s", n.Height(), n.BestHash(), other.Height(), other.BestHash())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitMempool waits until txid is (want=true) or is not in n's mempool.
func (n *Node) WaitMempool(txid string, want bool) {
	n.tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		in := false
		for _, id := range n.Mempool() {
			in = in || id == txid
		}
		if in == want {
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("tx %s in mempool = %v, want %v", txid, in, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CookieFile writes a bitcoind-style .cookie ("user:password") for n and
// returns its path.
func (n *Node) CookieFile() string {
	n.tb.Helper()
	p := filepath.Join(n.Dir, ".cookie")
	if err := os.WriteFile(p, []byte(n.User+":"+n.Pass), 0o600); err != nil {
		n.tb.Fatal(err)
	}
	return p
}

// TxID is tx's id as RPCs show it.
func TxID(tx *wire.MsgTx) string { return tx.TxHash().String() }
