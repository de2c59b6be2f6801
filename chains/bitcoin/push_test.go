package bitcoin

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/rpcproxy"
	"github.com/ipnd/ipnd/ledger"
)

// countingNode counts the calls that mean "a look at the whole mempool"
// and rounds, passing everything to the real client.
type countingNode struct {
	*Client
	lists  atomic.Int64 // getrawmempool
	rounds atomic.Int64 // getblockchaininfo (one per round)
}

func (c *countingNode) RawMempool(ctx context.Context) ([]chainhash.Hash, error) {
	c.lists.Add(1)
	return c.Client.RawMempool(ctx)
}

func (c *countingNode) ChainInfo(ctx context.Context) (ChainInfo, error) {
	c.rounds.Add(1)
	return c.Client.ChainInfo(ctx)
}

// runWatcher runs w until the test ends.
func runWatcher(t *testing.T, ctx context.Context, w *Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// pushEnv is a watcher with push on (auto) whose safety poll and heartbeat
// are an hour away, of a node behind a recording proxy.
func pushEnv(t *testing.T, node *btcdtest.Node) (*env, *countingNode, *rpcproxy.Proxy) {
	t.Helper()
	e := newEnv(t, node, P2WPKH, 5)
	p := rpcproxy.New(t, e.node.RPCHost)
	counting := &countingNode{Client: e.clientAt(p.Host)}
	e.w = NewWatcher(counting, e.ledger, e.d, WatcherConfig{GapLimit: 5, PollInterval: time.Hour, MaxBackoff: 200 * time.Millisecond,
		ProgressInterval: time.Hour})
	e.w.beat = time.Hour
	e.alloc = NewAllocator(e.d, e.ledger, e.w)
	return e, counting, p
}

// Push on btcd: with the safety poll and the heartbeat an hour away, a
// payment becomes an unconfirmed deposit without a look at the whole
// mempool and a block confirms it, both from websocket notifications
// alone. The node goes away and restarts: the watcher polls every second
// (feed "polling"), catches up with what happened meanwhile, and push
// comes back by itself.
func TestWatcherPushWebsocket(t *testing.T) {
	a := btcdtest.Start(t, btcdtest.Options{})
	a.Fund()
	e, node, proxy := pushEnv(t, a)
	runWatcher(t, e.ctx, e.w)
	waitFor(t, "push working and synced", func() bool {
		st := e.w.Status()
		return st.Feed == "websocket" && st.State == chains.Synced
	})
	addr := e.allocate()
	// The resync after the connect has run once push is up; from now on
	// only push brings transactions and blocks.
	waitFor(t, "the resync round", func() bool { return e.w.pool.resyncs.Load() >= 1 })
	lists, rounds := node.lists.Load(), node.rounds.Load()

	tx := a.Pay(btcdtest.Output{Address: addr, Amount: 31_000})
	waitFor(t, "unconfirmed deposit by push", func() bool { return e.status(addr, btcdtest.TxID(tx)) == ledger.StatusMempool })
	a.Generate(1)
	waitFor(t, "confirmed deposit by push", func() bool { return e.status(addr, btcdtest.TxID(tx)) == ledger.StatusConfirmed })
	if n := node.lists.Load(); n != lists {
		t.Fatalf("%d looks at the whole mempool while push worked", n-lists)
	}
	if node.rounds.Load() == rounds {
		t.Fatal("no round ran: the deposits did not come from the watcher")
	}
	if proxy.Calls("notifynewtransactions") != 1 || proxy.Calls("notifyblocks") != 1 {
		t.Fatalf("websocket calls %v", proxy.AllCalls())
	}

	// The node goes away (and restarts, losing its mempool); blocks and a
	// payment happen meanwhile.
	proxy.SetDown(true)
	waitFor(t, "fallback to polling", func() bool {
		st := e.w.Status()
		return st.Feed == "polling" && st.State == chains.Unreachable
	})
	a.RestartKeepChain()
	tx2 := a.Pay(btcdtest.Output{Address: addr, Amount: 32_000})
	a.Generate(2)
	proxy.SetDown(false)
	waitFor(t, "payment mined while the node was away", func() bool { return e.status(addr, btcdtest.TxID(tx2)) == ledger.StatusConfirmed })
	waitFor(t, "push back", func() bool { return e.w.Status().Feed == "websocket" })
	tx3 := a.Pay(btcdtest.Output{Address: addr, Amount: 33_000})
	waitFor(t, "payment with push back", func() bool { return e.status(addr, btcdtest.TxID(tx3)) == ledger.StatusMempool })
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 31_000, 3)
	if proxy.Websockets() < 2 {
		t.Fatalf("%d websocket connections: push did not reconnect", proxy.Websockets())
	}
}

// status is the status of the deposit of txid to addr, "" when none.
func (e *env) status(addr, txid string) string {
	e.t.Helper()
	_, ds, err := e.ledger.Balance(e.ctx, chains.BTC, addr, 1)
	if err != nil {
		e.t.Fatalf("balance %s: %v", addr, err)
	}
	for _, d := range ds {
		if d.TxID == txid {
			return d.Status
		}
	}
	return ""
}
