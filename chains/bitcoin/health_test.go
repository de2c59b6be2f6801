package bitcoin

import (
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/ledger"
)

// waitWithin is waitFor with its own deadline.
func waitWithin(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s after %v", what, time.Since(t0).Round(time.Millisecond))
}

// A node that hangs (SIGSTOP) with the default settings (push working,
// rpc_timeout 10 s): the watcher says unreachable (/readyz 503) within
// 30 s; once the node continues (SIGCONT) it is ready and payments are
// recorded again.
func TestWatcherHungNode(t *testing.T) {
	a := btcdtest.Start(t, btcdtest.Options{})
	a.Fund()
	e := newEnv(t, a, P2WPKH, 5)
	e.w = NewWatcher(e.client(), e.ledger, e.d, WatcherConfig{GapLimit: 5, MaxBackoff: time.Second})
	e.alloc = NewAllocator(e.d, e.ledger, e.w)
	runWatcher(t, e.ctx, e.w)
	waitFor(t, "synced with push", func() bool {
		st := e.w.Status()
		return st.State == chains.Synced && st.Feed == "websocket"
	})
	addr := e.allocate()

	a.Pause()
	waitWithin(t, 30*time.Second, "unreachable after SIGSTOP", func() bool { return e.w.Status().State == chains.Unreachable })
	a.Resume()
	waitWithin(t, 60*time.Second, "ready after SIGCONT", func() bool { return e.w.Status().State == chains.Synced })
	tx := a.Pay(btcdtest.Output{Address: addr, Amount: 93_000})
	waitFor(t, "payment after SIGCONT", func() bool { return e.status(addr, btcdtest.TxID(tx)) == ledger.StatusMempool })
}
