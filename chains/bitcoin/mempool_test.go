package bitcoin

import (
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/rpcproxy"
	"github.com/ipnd/ipnd/ledger"
)

// 20,000 unconfirmed transactions in the node's mempool (fan-outs, then
// one spend per output, submitted in batches): the watcher is ready
// (synced) after its first round, long before the import (one batch per
// round here) is done; a payment made meanwhile is recorded before the
// import finishes; in steady state a round makes the same two calls
// whatever the mempool's size, none of them per transaction.
func TestWatcherLargeMempool(t *testing.T) {
	const count = 20_000
	n := btcdtest.Start(t, btcdtest.Options{})
	n.Fund()
	fill := n.FillMempool(btcdtest.FillOptions{Count: count, Unsigned: true})
	t.Logf("mempool filled with %d transactions: prepared in %v, submitted in %v", count, fill.Prepare, fill.Submit)
	e := newEnv(t, n, P2WPKH, 5)
	p := rpcproxy.New(t, n.RPCHost)
	e.w = NewWatcher(e.clientAt(p.Host), e.ledger, e.d, WatcherConfig{GapLimit: 5, PollInterval: time.Hour,
		ImportBudget: time.Nanosecond, Push: PushConfig{Mode: PushOff}, ProgressInterval: time.Hour})
	e.alloc = NewAllocator(e.d, e.ledger, e.w)

	e.poll()
	if st := e.w.Status(); st.State != chains.Synced {
		t.Fatalf("not ready after the first round: %+v", st)
	}
	if left := e.w.stats.backlog.Load(); left < count/2 {
		t.Fatalf("%d transactions left to import after the first round: the import did not wait", left)
	}
	addr := e.allocate()
	tx := n.Pay(btcdtest.Output{Address: addr, Amount: 91_000})
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusMempool, 91_000, 0)
	if left := e.w.stats.backlog.Load(); left == 0 {
		t.Fatal("the import finished before the payment was recorded: the test shows nothing")
	}
	for rounds := 0; e.w.stats.backlog.Load() > 0; rounds++ {
		if rounds > 2*count/500 {
			t.Fatalf("import not done after %d rounds (%d left)", rounds, e.w.stats.backlog.Load())
		}
		e.poll()
	}
	if imported, took := e.w.lastImport(); imported < count {
		t.Fatalf("import of %d transactions reported (%v)", imported, took)
	}
	if calls := p.Calls("getrawtransaction"); calls < count || calls > count+count/10 {
		t.Fatalf("getrawtransaction called %d times for %d transactions", calls, count)
	}

	p.Reset()
	const rounds = 10
	for range rounds {
		e.poll()
	}
	all := p.AllCalls()
	if all["getblockchaininfo"] != rounds || all["getmempoolinfo"] != rounds || p.TotalCalls() != 2*rounds {
		t.Fatalf("steady state: %v in %d rounds, want only getblockchaininfo and getmempoolinfo, once a round", all, rounds)
	}
}
