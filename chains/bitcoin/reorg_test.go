package bitcoin

import (
	"fmt"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/rpcproxy"
	"github.com/ipnd/ipnd/ledger"
)

// subscribe makes a max_confirms=1 subscription on addr and returns a
// function listing the totals it was notified, oldest first.
func (e *env) subscribe(addr string) func() []string {
	e.t.Helper()
	sub, _, err := e.ledger.Subscribe(e.ctx, chains.BTC, addr, "http://receiver.example/ipn", 1, "json", "k")
	if err != nil {
		e.t.Fatal(err)
	}
	return func() []string {
		e.t.Helper()
		ns, err := e.ledger.Notifications(e.ctx, sub.ID, 100)
		if err != nil {
			e.t.Fatal(err)
		}
		var out []string
		for i := len(ns) - 1; i >= 0; i-- {
			out = append(out, fmt.Sprintf("%d/%d", ns[i].Confirmed, ns[i].Unconfirmed))
		}
		return out
	}
}

// A one-block stale tip whose competing blocks both hold the customer's
// transaction: once confirmed, the receiver is never told the payment is
// unconfirmed or gone (the reorg is one ledger write).
func TestWatcherStaleTipBothBranches(t *testing.T) {
	a := btcdtest.Shared(t)
	b := btcdtest.Start(t, btcdtest.Options{Wallet: a.Wallet})
	b.Connect(a)
	e := newEnv(t, a, P2WPKH, 5)
	e.poll()
	addr := e.allocate()
	notified := e.subscribe(addr)

	f := btcdtest.Split(a, b)
	tx := f.PayBoth(btcdtest.Output{Address: addr, Amount: 44_000})
	e.poll()
	stale := f.MineBoth()
	e.poll()
	d := e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 44_000, 1)
	if d.BlockHash != stale.String() {
		t.Fatalf("confirmed in %s, want A's block %s", d.BlockHash, stale)
	}
	winner := f.Join(1)
	e.poll()
	d = e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 44_000, 2)
	if d.BlockHash != winner[0].String() {
		t.Fatalf("deposit in %s after the reorg, want B's block %s", d.BlockHash, winner[0])
	}
	if tip, _, _ := e.ledger.Tip(e.ctx, chains.BTC); tip.Hash != winner[len(winner)-1].String() {
		t.Fatalf("ledger tip %+v, want %s", tip, winner[len(winner)-1])
	}
	if got := fmt.Sprint(notified()); got != "[0/44000 44000/0]" {
		t.Fatalf("notified %s, want [0/44000 44000/0]: nothing lower once confirmed", got)
	}
}

// The node restarts and loses its mempool (btcd keeps none) while a
// payment is unconfirmed: no "gone" notification; the payment confirms
// when a block holds it.
func TestWatcherNodeRestartKeepsUnconfirmed(t *testing.T) {
	a := btcdtest.Start(t, btcdtest.Options{})
	a.Fund()
	e := newEnv(t, a, P2WPKH, 5)
	proxy := rpcproxy.New(t, a.RPCHost)
	e.w = NewWatcher(e.clientAt(proxy.Host), e.ledger, e.d, WatcherConfig{GapLimit: 5, PollInterval: 20 * time.Millisecond,
		ProgressInterval: time.Hour, Push: PushConfig{Mode: PushOff}})
	e.w.pool.cfg.FullEvery = 0
	e.alloc = NewAllocator(e.d, e.ledger, e.w)
	e.poll()
	addr := e.allocate()
	notified := e.subscribe(addr)
	tx := a.Pay(btcdtest.Output{Address: addr, Amount: 55_000})
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusMempool, 55_000, 0)

	proxy.SetDown(true)
	a.RestartKeepChain()
	proxy.SetDown(false)
	if a.InMempool(btcdtest.TxID(tx)) {
		t.Fatal("the restarted node still has the transaction: the test shows nothing")
	}
	for range 3 {
		e.poll()
	}
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusMempool, 55_000, 0)
	// The customer's wallet broadcasts it again; a block holds it.
	if err := a.Send(tx); err != nil {
		t.Fatal(err)
	}
	a.Generate(1)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 55_000, 1)
	if got := fmt.Sprint(notified()); got != "[0/55000 55000/0]" {
		t.Fatalf("notified %s, want [0/55000 55000/0]: no gone in between", got)
	}
}

// After a restart the coins of a payment confirmed before it are watched
// again (from the ledger's recent confirmed deposits): a reorg whose new
// branch spends them records double_spend, as without the restart
// (TestWatcherReorgTwoNodes), not reorg; also when the reorg happened
// while ipnd was down (the payment's block, now stale, is read by hash).
func TestWatcherReorgDoubleSpendAfterRestart(t *testing.T) {
	for _, whileDown := range []bool{false, true} {
		t.Run(fmt.Sprintf("reorg_while_down=%v", whileDown), func(t *testing.T) { reorgDoubleSpendAfterRestart(t, whileDown) })
	}
}

func reorgDoubleSpendAfterRestart(t *testing.T, whileDown bool) {
	a := btcdtest.Shared(t)
	b := btcdtest.Start(t, btcdtest.Options{Wallet: a.Wallet})
	b.Connect(a)
	e := newEnv(t, a, P2WPKH, 5)
	e.poll()
	addr := e.allocate()
	other := btcdtest.NewWallet(t).Address.EncodeAddress()

	btcdtest.Split(a, b)
	keep := a.Pay(btcdtest.Output{Address: addr, Amount: 13_000})
	lost, steal := a.Conflicting([]btcdtest.Output{{Address: addr, Amount: 24_000}}, []btcdtest.Output{{Address: other, Amount: 24_000}})
	if err := a.Send(lost); err != nil {
		t.Fatal(err)
	}
	a.Generate(1)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(lost), ledger.StatusConfirmed, 24_000, 1)

	// ipnd restarts: a new watcher on the same ledger file.
	e.ledger.Close()
	e.ledger = openLedger(t, e.ctx, e.path)
	e.w = e.newWatcher(5)
	if !whileDown {
		e.poll()
		e.wantDeposit(addr, btcdtest.TxID(lost), ledger.StatusConfirmed, 24_000, 1)
	}

	b.Generate(2)
	if err := b.Send(steal); err != nil {
		t.Fatal(err)
	}
	b.Generate(1)
	a.Reconnect(b)
	a.WaitMempool(btcdtest.TxID(keep), true)
	e.poll()
	if d := e.wantDeposit(addr, btcdtest.TxID(keep), ledger.StatusMempool, 13_000, 0); d.Reason != ledger.ReasonReorg {
		t.Fatalf("back in the mempool: reason %q, want %q", d.Reason, ledger.ReasonReorg)
	}
	if d := e.wantDeposit(addr, btcdtest.TxID(lost), ledger.StatusOrphaned, 24_000, 0); d.Reason != string(chains.ReasonDoubleSpend) {
		t.Fatalf("orphaned after a restart: reason %q, want %q", d.Reason, chains.ReasonDoubleSpend)
	}
	if tip, _, _ := e.ledger.Tip(e.ctx, chains.BTC); tip.Hash != b.BestHash().String() {
		t.Fatalf("ledger tip %+v, node %s", tip, b.BestHash())
	}
}
