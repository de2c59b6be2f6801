package bitcoin

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
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
	w := btcdtest.NewWallet(t)
	a := btcdtest.Start(t, btcdtest.Options{Wallet: w})
	a.Fund()
	b := btcdtest.Start(t, btcdtest.Options{Wallet: w})
	b.Connect(a)
	e := newEnv(t, a, P2WPKH, 5)
	e.poll()
	addr := e.allocate()
	notified := e.subscribe(addr)

	b.Disconnect(a)
	tx := a.Build([]btcdtest.Output{{Address: addr, Amount: 44_000}}, false, 0)
	if err := a.Send(tx); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(tx); err != nil {
		t.Fatal(err)
	}
	e.poll()
	staleHash := a.Generate(1)[0]
	e.poll()
	d := e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 44_000, 1)
	if d.BlockHash != staleHash.String() {
		t.Fatalf("confirmed in %s, want A's block %s", d.BlockHash, staleHash)
	}
	b.Generate(2) // B's branch wins; its first block holds the transaction too
	a.Reconnect(b)
	e.poll()
	d = e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 44_000, 2)
	if d.BlockHash == staleHash.String() {
		t.Fatal("deposit still in the stale block")
	}
	if tip, _, _ := e.ledger.Tip(e.ctx, chains.BTC); tip.Hash != b.BestHash().String() {
		t.Fatalf("ledger tip %+v, node %s", tip, b.BestHash())
	}
	if got := fmt.Sprint(notified()); got != "[0/44000 44000/0]" {
		t.Fatalf("notified %s, want [0/44000 44000/0]: nothing lower once confirmed", got)
	}
}

// The node restarts and loses its mempool (btcd keeps none) while a
// payment is unconfirmed: no "gone" notification; the payment confirms
// when a block holds it.
func TestWatcherNodeRestartKeepsUnconfirmed(t *testing.T) {
	w := btcdtest.NewWallet(t)
	a := btcdtest.Start(t, btcdtest.Options{Wallet: w})
	a.Fund()
	keeper := btcdtest.Start(t, btcdtest.Options{Wallet: w})
	keeper.Connect(a)
	e := newEnv(t, a, P2WPKH, 5)
	e.poll()
	addr := e.allocate()
	notified := e.subscribe(addr)
	tx := a.Pay(btcdtest.Output{Address: addr, Amount: 55_000})
	keeper.WaitMempool(btcdtest.TxID(tx), true)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusMempool, 55_000, 0)

	a.Restart()
	a.Connect(keeper)
	if slices.Contains(a.Mempool(), btcdtest.TxID(tx)) {
		t.Fatal("the restarted node still has the transaction: the test shows nothing")
	}
	e.poll()
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusMempool, 55_000, 0)
	keeper.Generate(1)
	a.WaitSynced(keeper)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 55_000, 1)
	if got := fmt.Sprint(notified()); got != "[0/55000 55000/0]" {
		t.Fatalf("notified %s, want [0/55000 55000/0]: no gone in between", got)
	}
}
