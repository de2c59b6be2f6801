package bitcoin

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
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

// Push on btcd: with the safety poll and the heartbeat an hour away, a
// payment becomes an unconfirmed deposit without a look at the whole
// mempool and a block confirms it, both from websocket notifications
// alone. Restarting the node breaks the websocket: the watcher polls
// every second (feed "polling") and finds payments that way, and push
// comes back by itself.
func TestWatcherPushWebsocket(t *testing.T) {
	w := btcdtest.NewWallet(t)
	a := btcdtest.Start(t, btcdtest.Options{Wallet: w})
	a.Fund()
	keeper := btcdtest.Start(t, btcdtest.Options{Wallet: w})
	keeper.Connect(a)
	e := newEnv(t, a, P2WPKH, 5)
	node := &countingNode{Client: e.client()}
	e.w = NewWatcher(node, e.ledger, e.d, WatcherConfig{GapLimit: 5, PollInterval: time.Hour, MaxBackoff: 200 * time.Millisecond,
		ProgressInterval: time.Hour})
	e.w.beat = time.Hour
	e.alloc = NewAllocator(e.d, e.ledger, e.w)
	runWatcher(t, e.ctx, e.w)
	waitFor(t, "push working and synced", func() bool {
		st := e.w.Status()
		return st.Feed == "websocket" && st.State == chains.Synced
	})
	addr := e.allocate()
	// The resync after the connect has run once push is up; from now on
	// only push brings transactions and blocks.
	waitFor(t, "the resync round", func() bool { return node.lists.Load() >= 1 })
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
	keeper.WaitSynced(a)

	// The node restarts: the websocket breaks, polling takes over.
	a.Stop()
	waitFor(t, "fallback to polling", func() bool { return e.w.Status().Feed == "polling" })
	a.Restart()
	a.Connect(keeper)
	tx2 := keeper.Pay(btcdtest.Output{Address: addr, Amount: 32_000})
	a.WaitMempool(btcdtest.TxID(tx2), true)
	waitFor(t, "payment after the restart", func() bool { return e.status(addr, btcdtest.TxID(tx2)) == ledger.StatusMempool })
	waitFor(t, "push back", func() bool { return e.w.Status().Feed == "websocket" })
	tx3 := a.Pay(btcdtest.Output{Address: addr, Amount: 33_000})
	waitFor(t, "payment with push back", func() bool { return e.status(addr, btcdtest.TxID(tx3)) == ledger.StatusMempool })
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 31_000, 1)
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
