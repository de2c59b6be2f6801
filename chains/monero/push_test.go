package monero_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/chains/zmqsub"
	"github.com/ipnd/ipnd/db"
)

// relayFixture is a two-daemon network: the merchant's monerod publishing on
// ZMQ with the merchant's view wallet on it, and a customer's monerod (peered
// merchant -> customer) with a funded payer wallet: monerod publishes
// txpool_add only for a transaction relayed from a peer.
type relayFixture struct {
	net       *monerotest.Net
	payer     *monerotest.WalletRPC
	view      *monerotest.WalletRPC
	payerAddr string
}

var (
	relayOnce sync.Once
	relay     *relayFixture
	relayErr  error
)

func relayNet(t *testing.T) *relayFixture {
	t.Helper()
	f := need(t)
	relayOnce.Do(func() { relay, relayErr = startRelay(f) })
	if relayErr != nil {
		t.Fatalf("two-daemon network: %v", relayErr)
	}
	return relay
}

func startRelay(f *fixture) (*relayFixture, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := monerotest.StartWith(ctx, monerotest.Options{ZMQPub: true, Customer: true})
	if err != nil {
		return nil, err
	}
	r := &relayFixture{net: n}
	relay = r // closed by TestMain even if the rest fails
	errs := make(chan error, 1)
	go func() {
		v, err := n.StartWalletRPC(ctx, "relay-view", monerotest.WalletOptions{})
		if err == nil {
			err = v.RestoreViewOnly(ctx, "view", f.merchAddr, f.viewKey, 0)
		}
		r.view = v
		errs <- err
	}()
	if r.payer, err = n.StartWalletRPC(ctx, "payer", monerotest.WalletOptions{Daemon: n.Customer}); err != nil {
		return r, err
	}
	if err := r.payer.CreateWallet(ctx, "payer"); err != nil {
		return r, err
	}
	if r.payerAddr, err = r.payer.PrimaryAddress(ctx); err != nil {
		return r, err
	}
	if err := <-errs; err != nil {
		return r, err
	}
	if err := n.Mine(ctx, 80, r.payerAddr); err != nil {
		return r, err
	}
	return r, n.WaitSynced(ctx)
}

// pay sends one transaction from the payer wallet, through the customer's
// daemon.
func (r *relayFixture) pay(t *testing.T, addr string, amount uint64) string {
	t.Helper()
	ctx := ctxT(t)
	if err := r.net.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.payer.Client.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	txid, err := r.payer.Transfer(ctx, monerotest.Destination{Address: addr, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	return txid
}

// poolEvents subscribes to a publisher independently of the watcher and
// records when monerod published each pool transaction.
type poolEvents struct {
	mu sync.Mutex
	at map[string]time.Time
}

func subscribePool(t *testing.T, endpoint string) *poolEvents {
	t.Helper()
	sub, err := zmqsub.New(zmqsub.Options{Name: "test", Endpoints: []string{endpoint}, Format: zmqsub.FormatMonero,
		Topics: []string{zmqsub.TopicMoneroTxPoolAdd}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &poolEvents{at: map[string]time.Time{}}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_ = sub.Run(ctx, func(ev zmqsub.Event) {
			if ev.Kind != zmqsub.KindMessage {
				return
			}
			txs, err := zmqsub.ParseMoneroTxPoolAdd(ev.Body)
			if err != nil {
				return
			}
			p.mu.Lock()
			for _, tx := range txs {
				p.at[tx.ID] = ev.Time
			}
			p.mu.Unlock()
		})
	}()
	return p
}

func (p *poolEvents) seen(txid string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.at[txid]
	return at, ok
}

// runWatcher runs w until the test ends.
func runWatcher(t *testing.T, w *monero.Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() { defer close(done); _ = w.Run(ctx) }()
}

// waitUntil polls cond every 5 ms until it holds (failing after limit, a
// generous "eventually") and returns when it first held.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Now()
}

func totalsAre(l *db.Ledger, addr string, maxConfirms int, confirmed, unconfirmed uint64) func() bool {
	return func() bool {
		tot, _, err := l.Balance(context.Background(), chains.XMR, addr, maxConfirms)
		return err == nil && tot.Confirmed == confirmed && tot.Unconfirmed == unconfirmed
	}
}

// TestPushRelayedPaymentAndBlock: with polling effectively off (poll and
// safety intervals of an hour), only monerod's publisher can make the
// watcher look: a payment relayed from the customer's node is recorded
// after the merchant's node publishes it, its block after
// json-minimal-chain_main.
func TestPushRelayedPaymentAndBlock(t *testing.T) {
	r := relayNet(t)
	ctx := ctxT(t)
	l := newLedger(t)
	view, err := monero.NewWalletClient(r.view.URL, monero.ClientOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	daemon, _ := monero.NewDaemonClient(r.net.DaemonURL, monero.ClientOptions{Timeout: time.Minute})
	acct := account()
	a, err := monero.NewAllocator(ctx, view, l, monero.AllocatorConfig{Account: acct, WalletCheck: monero.WalletCheck{RequireViewOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := a.Allocate(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	m := newCountingMetrics()
	w, err := monero.NewWatcherWithPush(view, daemon, l, monero.WatcherConfig{Account: acct, ZMQPub: r.net.Main.ZMQPub,
		PollInterval: time.Hour, SafetyInterval: time.Hour, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if st := w.Status(); st.Feed != monero.FeedPolling {
		t.Fatalf("before Run: %+v", st)
	}
	events := subscribePool(t, r.net.Main.ZMQPub)
	runWatcher(t, w)
	waitUntil(t, 30*time.Second, "push connected and a first poll", func() bool {
		st := w.Status()
		return st.Feed == monero.FeedZMQ && st.State == chains.Synced
	})
	_, base := m.snapshot() // the first poll ran before the publisher connected
	for i, amount := range []uint64{1_100_000_000, 2_200_000_000} {
		txid := r.pay(t, addr.Address, amount)
		paid := uint64(1_100_000_000)
		if i == 1 {
			paid += amount
		}
		recorded := waitUntil(t, 30*time.Second, "relayed payment recorded", totalsAre(l, addr.Address, 1, paid-amount, amount))
		published, ok := events.seen(txid)
		if !ok {
			t.Fatalf("monerod did not publish %s, yet it was recorded", txid)
		}
		t.Logf("payment %d: recorded %v after the merchant's node published it", i, recorded.Sub(published).Round(time.Millisecond))
		if _, err := r.net.MineTx(ctx, r.payerAddr, txid); err != nil {
			t.Fatal(err)
		}
		mined := time.Now()
		confirmed := waitUntil(t, 30*time.Second, "block recorded", totalsAre(l, addr.Address, 1, paid, 0))
		t.Logf("payment %d: confirmed %v after generateblocks returned", i, confirmed.Sub(mined).Round(time.Millisecond))
	}
	_, polls := m.snapshot()
	for k, v := range base {
		polls[k] -= v
	}
	if polls[monero.PollPush] < 4 || polls[monero.PollInterval]+polls[monero.PollSafety]+polls[monero.PollChange] != 0 {
		t.Fatalf("polls %v: want only push-triggered wallet polls", polls)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events[zmqsub.TopicMoneroTxPoolAdd] < 2 || m.events[zmqsub.TopicMoneroChainMain] < 2 || m.events[monero.EventResync] < 1 {
		t.Fatalf("push events %v", m.events)
	}
}

// TestChangeCheckAndDaemonRestart: a payment submitted to the merchant's
// own node (monerod publishes nothing for it) is found by the change check
// against monerod within a few poll intervals; while monerod restarts the
// watcher falls back to polling the wallet, then push resumes.
func TestChangeCheckAndDaemonRestart(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	x, _ := a.Allocate(ctx, "")
	m := newCountingMetrics()
	w, err := monero.NewWatcherWithPush(f.viewClient(t), f.daemonClient(t), l, monero.WatcherConfig{Account: acct,
		ZMQPub: f.net.Main.ZMQPub, PollInterval: 200 * time.Millisecond, SafetyInterval: time.Hour, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	runWatcher(t, w)
	waitUntil(t, 30*time.Second, "push connected and a first poll", func() bool {
		st := w.Status()
		return st.Feed == monero.FeedZMQ && st.State == chains.Synced
	})
	waitUntil(t, 10*time.Second, "change checks", func() bool { _, p := m.snapshot(); return p[monero.PollChangeCheck] >= 3 })
	_, base := m.snapshot() // the first poll ran before the publisher connected
	txid := f.pay(t, monerotest.Destination{Address: x.Address, Amount: 3 * xmr})
	sent := time.Now()
	at := waitUntil(t, 20*time.Second, "local submission recorded", totalsAre(l, x.Address, 1, 0, 3*xmr))
	t.Logf("local submission recorded %v after transfer returned", at.Sub(sent).Round(time.Millisecond))
	if _, p := m.snapshot(); p[monero.PollChange] < 1 || p[monero.PollInterval] != base[monero.PollInterval] {
		t.Fatalf("polls %v (before the payment %v): the change check should have found it", p, base)
	}
	f.confirm(t, txid)
	waitUntil(t, 20*time.Second, "block recorded", totalsAre(l, x.Address, 1, 3*xmr, 0))

	// monerod restarts (its chain kept): the publisher is gone, the
	// watcher polls at its interval and reports push down, then push
	// resumes by itself.
	f.net.Main.Stop()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = f.net.Main.Start(context.Background())
		}
	})
	waitUntil(t, 20*time.Second, "push down while monerod is stopped", func() bool { return w.Status().Feed == monero.FeedPolling })
	if err := f.net.Main.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitUntil(t, 30*time.Second, "push connected again", func() bool {
		st := w.Status()
		return st.Feed == monero.FeedZMQ && st.State == chains.Synced
	})
	if _, p := m.snapshot(); p[monero.PollInterval] <= base[monero.PollInterval] {
		t.Fatalf("polls %v: no fallback polling while the publisher was down", p)
	}
	// The miner's wallet-rpc finds the restarted daemon again by itself.
	waitUntil(t, 30*time.Second, "miner wallet reconnected", func() bool {
		_, err := f.miner.Client.Refresh(ctx)
		return err == nil
	})
	txid = f.pay(t, monerotest.Destination{Address: x.Address, Amount: xmr})
	waitUntil(t, 20*time.Second, "payment after the restart", totalsAre(l, x.Address, 1, 3*xmr, xmr))
	f.confirm(t, txid)
	waitUntil(t, 20*time.Second, "block after the restart", totalsAre(l, x.Address, 1, 4*xmr, 0))
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.pushUp); n < 3 || m.pushUp[n-1] != true {
		t.Fatalf("push connected metric history %v", m.pushUp)
	}
}
