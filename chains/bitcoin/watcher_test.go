package bitcoin

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

func TestMain(m *testing.M) {
	code := coretest.Main(m) // runs the tests; stops the shared litecoind
	btcdtest.CloseShared()
	os.Exit(code)
}

// testTPub is an account key (m/84'/1'/0') of a fixed test seed.
func testTPub(t testing.TB) string { return seededTPub(t, "ipnd bitcoin watcher tests") }

// seededTPub is an account key (m/84'/1'/0') of a seed made from name:
// tests sharing a node use their own keys, so that one test's payments are
// not another's.
func seededTPub(t testing.TB, name string) string {
	t.Helper()
	seed := sha256.Sum256([]byte(name))
	k, err := hdkeychain.NewMaster(seed[:], &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint32{84, 1, 0} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	return pub.String()
}

type env struct {
	t      *testing.T
	ctx    context.Context
	node   *btcdtest.Node
	ledger *db.Ledger
	path   string
	d      *Deriver
	w      *Watcher
	alloc  *Allocator
}

func openLedger(t *testing.T, ctx context.Context, path string) *db.Ledger {
	t.Helper()
	l, err := db.Open(ctx, "sqlite", path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// newEnv makes a watcher of node (the package's shared node when nil) on
// a fresh SQLite ledger, with a key of the test's own.
func newEnv(t *testing.T, node *btcdtest.Node, typ AddressType, gap int) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if node == nil {
		node = btcdtest.Shared(t)
	}
	e := &env{t: t, ctx: ctx, node: node, path: filepath.Join(t.TempDir(), "ledger.db")}
	e.ledger = openLedger(t, ctx, e.path)
	d, err := NewDeriver("regtest", seededTPub(t, t.Name()), string(typ))
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	e.w = e.newWatcher(gap)
	e.alloc = NewAllocator(d, e.ledger, e.w)
	return e
}

func (e *env) client() *Client { return e.clientAt(e.node.RPCHost) }

// clientAt is a client of the node at host (the node's, or a proxy's).
func (e *env) clientAt(host string) *Client {
	return NewClient(RPCConfig{Host: host, User: e.node.User, Password: config.Secret(e.node.Pass), Timeout: 10 * time.Second})
}

// newWatcher makes a watcher polling every 20 ms that looks at the whole
// mempool at every round (Poll in tests is then deterministic).
func (e *env) newWatcher(gap int) *Watcher {
	w := NewWatcher(e.client(), e.ledger, e.d, WatcherConfig{GapLimit: gap, PollInterval: 20 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, ProgressInterval: time.Hour, Push: PushConfig{Mode: PushOff}})
	w.pool.cfg.FullEvery = 0
	return w
}

func (e *env) poll() {
	e.t.Helper()
	if err := e.w.Poll(e.ctx); err != nil {
		e.t.Fatalf("poll: %v", err)
	}
}

func (e *env) deposits(addr string) (ledger.Totals, []ledger.Deposit, int64) {
	e.t.Helper()
	tot, ds, err := e.ledger.Balance(e.ctx, chains.BTC, addr, 1)
	if err != nil {
		e.t.Fatalf("balance %s: %v", addr, err)
	}
	tip, _, _ := e.ledger.Tip(e.ctx, chains.BTC)
	return tot, ds, tip.Height
}

// deposit returns the one deposit of txid to addr.
func (e *env) deposit(addr, txid string) (ledger.Deposit, int64) {
	e.t.Helper()
	_, ds, tip := e.deposits(addr)
	var found []ledger.Deposit
	for _, d := range ds {
		if d.TxID == txid {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("%d deposits of %s to %s (all: %+v)", len(found), txid, addr, ds)
	}
	return found[0], tip
}

func (e *env) wantDeposit(addr, txid, status string, amount uint64, confs int64) ledger.Deposit {
	e.t.Helper()
	d, tip := e.deposit(addr, txid)
	if d.Status != status || d.Amount != amount || d.Confirmations(tip) != confs {
		e.t.Fatalf("deposit %s to %s: status %s amount %d confirmations %d; want %s %d %d",
			txid, addr, d.Status, d.Amount, d.Confirmations(tip), status, amount, confs)
	}
	return d
}

func (e *env) allocate() string {
	e.t.Helper()
	a, err := e.alloc.Allocate(e.ctx, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Address
}

func TestWatcherAddressTypes(t *testing.T) {
	node := btcdtest.Shared(t)
	for _, typ := range []AddressType{P2PKH, P2SHP2WPKH, P2WPKH, P2TR} {
		t.Run(string(typ), func(t *testing.T) {
			e := newEnv(t, node, typ, 3)
			e.poll()
			addr := e.allocate()
			tx := node.Pay(btcdtest.Output{Address: addr, Amount: 150_000})
			e.poll()
			e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusMempool, 150_000, 0)

			hs := node.Generate(1)
			e.poll()
			d := e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 150_000, 1)
			if d.BlockHash != hs[0].String() || d.Height != node.Height() {
				t.Fatalf("deposit in block %d %s, want %d %s", d.Height, d.BlockHash, node.Height(), hs[0])
			}
			node.Generate(2)
			e.poll()
			e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 150_000, 3)

			// A second payment to the same address is summed.
			tx2 := node.Pay(btcdtest.Output{Address: addr, Amount: 50_000})
			e.poll()
			tot, _, _ := e.deposits(addr)
			if tot.Confirmed != 150_000 || tot.Unconfirmed != 50_000 {
				t.Fatalf("totals %+v", tot)
			}
			node.Generate(1)
			e.poll()
			e.wantDeposit(addr, btcdtest.TxID(tx2), ledger.StatusConfirmed, 50_000, 1)
			if tot, _, _ := e.deposits(addr); tot.Confirmed != 200_000 || tot.Unconfirmed != 0 {
				t.Fatalf("totals %+v", tot)
			}
			if st := e.w.Status(); st.State != chains.Synced || st.Height != node.Height() || st.Behind != 0 {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

func TestWatcherGapWindow(t *testing.T) {
	e := newEnv(t, nil, P2WPKH, 3)
	e.poll()
	first := e.allocate() // index 0: watched 0..3
	at := func(i uint32) string { a, _ := e.d.Address(i); return a }
	// Index 3 is in the window; index 6 only once 3 is used (same block);
	// index 20 is beyond every window.
	tx := e.node.Pay(btcdtest.Output{Address: at(3), Amount: 3000}, btcdtest.Output{Address: at(6), Amount: 6000},
		btcdtest.Output{Address: at(20), Amount: 20000}, btcdtest.Output{Address: first, Amount: 1000})
	e.node.Generate(1)
	e.poll()
	e.wantDeposit(first, btcdtest.TxID(tx), ledger.StatusConfirmed, 1000, 1)
	e.wantDeposit(at(3), btcdtest.TxID(tx), ledger.StatusConfirmed, 3000, 1)
	e.wantDeposit(at(6), btcdtest.TxID(tx), ledger.StatusConfirmed, 6000, 1)
	if _, err := e.ledger.AddressByString(e.ctx, chains.BTC, at(20)); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("index 20 recorded: %v", err)
	}
	a6, err := e.ledger.AddressByString(e.ctx, chains.BTC, at(6))
	if err != nil || a6.DerivationIndex == nil || *a6.DerivationIndex != 6 {
		t.Fatalf("gap address 6 recorded as %+v, %v", a6, err)
	}
	// The next allocation skips the paid gap addresses.
	next, _ := e.alloc.Allocate(e.ctx, "")
	if *next.DerivationIndex != 1 {
		t.Fatalf("next index %d", *next.DerivationIndex)
	}
	// Fixed index (user id) allocation is watched at once, with its window.
	far, err := e.alloc.AddressAt(e.ctx, 1000, "user 1000")
	if err != nil {
		t.Fatal(err)
	}
	tx2 := e.node.Pay(btcdtest.Output{Address: far.Address, Amount: 777}, btcdtest.Output{Address: at(1002), Amount: 888})
	e.poll()
	e.wantDeposit(far.Address, btcdtest.TxID(tx2), ledger.StatusMempool, 777, 0)
	e.wantDeposit(at(1002), btcdtest.TxID(tx2), ledger.StatusMempool, 888, 0)
}

func TestWatcherReplacedAndConflicted(t *testing.T) {
	a := btcdtest.Shared(t)
	e := newEnv(t, a, P2WPKH, 5)
	e.poll()
	addr := e.allocate()
	other := btcdtest.NewWallet(t).Address.EncodeAddress()

	// Replaced (RBF) in the mempool: the deposit is orphaned.
	first, second := a.Conflicting([]btcdtest.Output{{Address: addr, Amount: 10_000}}, []btcdtest.Output{{Address: other, Amount: 10_000}})
	if err := a.Send(first); err != nil {
		t.Fatal(err)
	}
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(first), ledger.StatusMempool, 10_000, 0)
	if err := a.Send(second); err != nil {
		t.Fatalf("replacement refused: %v", err)
	}
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(first), ledger.StatusOrphaned, 10_000, 0)

	// Conflicted by a double spend mined elsewhere: B (split from A) mines
	// the conflicting transaction; when A follows B's chain the mempool
	// payment disappears.
	b := btcdtest.Start(t, btcdtest.Options{Wallet: a.Wallet})
	b.Connect(a)
	btcdtest.Split(a, b)
	pay, steal := a.Conflicting([]btcdtest.Output{{Address: addr, Amount: 20_000}}, []btcdtest.Output{{Address: other, Amount: 20_000}})
	if err := a.Send(pay); err != nil {
		t.Fatal(err)
	}
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(pay), ledger.StatusMempool, 20_000, 0)
	// btcd cleans its mempool of double spends only for blocks that arrive
	// while it is current: the conflicting transaction goes in B's last
	// block (bitcoind has no such quirk).
	b.Generate(1)
	if err := b.Send(steal); err != nil {
		t.Fatal(err)
	}
	b.Generate(1)
	a.Reconnect(b)
	a.WaitMempool(btcdtest.TxID(pay), false)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(pay), ledger.StatusOrphaned, 20_000, 0)
	if tot, _, _ := e.deposits(addr); tot.Confirmed != 0 || tot.Unconfirmed != 0 {
		t.Fatalf("totals %+v", tot)
	}
}

func TestWatcherReorgInvalidateBlock(t *testing.T) {
	e := newEnv(t, nil, P2TR, 5)
	e.poll()
	addr := e.allocate()
	tx := e.node.Pay(btcdtest.Output{Address: addr, Amount: 42_000})
	hs := e.node.Generate(1)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 42_000, 1)

	e.node.InvalidateBlock(*hs[0])
	e.node.WaitMempool(btcdtest.TxID(tx), true)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusMempool, 42_000, 0)

	e.node.Generate(2)
	e.poll()
	d := e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 42_000, 2)
	if d.BlockHash == hs[0].String() {
		t.Fatal("deposit still in the invalidated block")
	}
}

func TestWatcherReorgTwoNodes(t *testing.T) {
	a := btcdtest.Shared(t)
	b := btcdtest.Start(t, btcdtest.Options{Wallet: a.Wallet})
	b.Connect(a)
	e := newEnv(t, a, P2SHP2WPKH, 5)
	e.poll()
	addr := e.allocate()
	other := btcdtest.NewWallet(t).Address.EncodeAddress()

	btcdtest.Split(a, b)
	// On A: keep (survives the reorg) and lost (its input is double spent
	// on B) both confirm.
	keep := a.Pay(btcdtest.Output{Address: addr, Amount: 11_000})
	lost, steal := a.Conflicting([]btcdtest.Output{{Address: addr, Amount: 22_000}}, []btcdtest.Output{{Address: other, Amount: 22_000}})
	if err := a.Send(lost); err != nil {
		t.Fatal(err)
	}
	a.Generate(1)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(keep), ledger.StatusConfirmed, 11_000, 1)
	e.wantDeposit(addr, btcdtest.TxID(lost), ledger.StatusConfirmed, 22_000, 1)

	b.Generate(2)
	if err := b.Send(steal); err != nil {
		t.Fatal(err)
	}
	b.Generate(1) // last: see TestWatcherReplacedAndConflicted
	a.Reconnect(b)
	a.WaitMempool(btcdtest.TxID(keep), true)
	e.poll()
	if d := e.wantDeposit(addr, btcdtest.TxID(keep), ledger.StatusMempool, 11_000, 0); d.Reason != ledger.ReasonReorg {
		t.Fatalf("back in the mempool: reason %q, want %q", d.Reason, ledger.ReasonReorg)
	}
	// lost's block went and B's branch spends its input: a double spend,
	// not a mere reorganisation.
	if d := e.wantDeposit(addr, btcdtest.TxID(lost), ledger.StatusOrphaned, 22_000, 0); d.Reason != string(chains.ReasonDoubleSpend) {
		t.Fatalf("orphaned: reason %q, want %q", d.Reason, chains.ReasonDoubleSpend)
	}
	if tip, _, _ := e.ledger.Tip(e.ctx, chains.BTC); tip.Hash != b.BestHash().String() {
		t.Fatalf("ledger tip %+v, node %s", tip, b.BestHash())
	}

	a.Generate(1)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(keep), ledger.StatusConfirmed, 11_000, 1)
	e.wantDeposit(addr, btcdtest.TxID(lost), ledger.StatusOrphaned, 22_000, 0)
	if tot, _, _ := e.deposits(addr); tot.Confirmed != 11_000 || tot.Unconfirmed != 0 {
		t.Fatalf("totals %+v", tot)
	}
}

// A fresh watcher on the same ledger file (a restarted ipnd) resumes from
// the stored tip: nothing missed, nothing doubled, and a mempool payment
// that vanished while it was down is orphaned once the node's mempool can
// be trusted about it.
func TestWatcherRestartResumes(t *testing.T) {
	e := newEnv(t, nil, P2WPKH, 5)
	e.poll()
	addr := e.allocate()
	tx1 := e.node.Pay(btcdtest.Output{Address: addr, Amount: 1_000})
	e.node.Generate(1)
	e.poll()
	gone, repl := e.node.Conflicting([]btcdtest.Output{{Address: addr, Amount: 2_000}},
		[]btcdtest.Output{{Address: btcdtest.NewWallet(t).Address.EncodeAddress(), Amount: 2_000}})
	if err := e.node.Send(gone); err != nil {
		t.Fatal(err)
	}
	tx3 := e.node.Pay(btcdtest.Output{Address: addr, Amount: 3_000})
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(gone), ledger.StatusMempool, 2_000, 0)

	// "Kill" the watcher: drop it and its ledger handle.
	e.ledger.Close()
	// While it is down: the mempool payment is replaced, tx3 confirms,
	// more payments arrive and blocks are mined.
	if err := e.node.Send(repl); err != nil {
		t.Fatal(err)
	}
	e.node.Generate(2)
	tx4 := e.node.Pay(btcdtest.Output{Address: addr, Amount: 4_000})
	e.node.Generate(3)
	tx5 := e.node.Pay(btcdtest.Output{Address: addr, Amount: 5_000})

	e.ledger = openLedger(t, e.ctx, e.path)
	e.w = e.newWatcher(5)
	e.poll()
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx1), ledger.StatusConfirmed, 1_000, 6)
	// The node started seconds ago: a transaction missing from its mempool
	// may only be unknown to it (btcd keeps no mempool across restarts),
	// and the restarted watcher never saw the replacement's conflict.
	e.wantDeposit(addr, btcdtest.TxID(gone), ledger.StatusMempool, 2_000, 0)
	// Once the node has run for a block interval, it is dropped.
	e.w.pool.cfg.RestartGrace = time.Nanosecond
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(gone), ledger.StatusOrphaned, 2_000, 0)
	e.wantDeposit(addr, btcdtest.TxID(tx3), ledger.StatusConfirmed, 3_000, 5)
	e.wantDeposit(addr, btcdtest.TxID(tx4), ledger.StatusConfirmed, 4_000, 3)
	e.wantDeposit(addr, btcdtest.TxID(tx5), ledger.StatusMempool, 5_000, 0)
	tot, ds, _ := e.deposits(addr)
	if len(ds) != 5 || tot.Confirmed != 8_000 || tot.Unconfirmed != 5_000 {
		t.Fatalf("%d deposits, totals %+v", len(ds), tot)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	t0 := time.Now()
	defer func() { t.Logf("%s after %v", what, time.Since(t0).Round(time.Millisecond)) }()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClientAuth(t *testing.T) {
	node := btcdtest.Shared(t)
	ctx := context.Background()
	c := NewClient(RPCConfig{Host: node.RPCHost, CookiePath: node.CookieFile()})
	info, err := c.ChainInfo(ctx)
	if err != nil || info.Chain != "regtest" {
		t.Fatalf("cookie auth: %+v %v", info, err)
	}
	bad := NewClient(RPCConfig{Host: node.RPCHost, User: node.User, Password: "wrong-secret-password"})
	_, err = bad.ChainInfo(ctx)
	if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "wrong-secret-password") {
		t.Fatalf("bad password: %v", err)
	}
	if _, err := c.BlockHash(ctx, node.Height()+100); !isNotFound(err) {
		t.Fatalf("height beyond tip: %v", err)
	}
	// A watcher for mainnet refuses a regtest node.
	d, _ := NewDeriver("mainnet", bip84ZPub, "")
	l := openLedger(t, ctx, filepath.Join(t.TempDir(), "l.db"))
	if err := NewWatcher(c, l, d, WatcherConfig{}).Poll(ctx); !errors.Is(err, ErrNodeNetwork) {
		t.Fatalf("network mismatch: %v", err)
	}
}
