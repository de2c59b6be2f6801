package zmqsub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/chains/zmqsub"
	"github.com/ipnd/ipnd/internal/testenv"
)

// One Monero regtest network for the package's integration tests, started
// by the first of them (the unit tests need none): the merchant's daemon
// (Main) publishing on ZMQ behind an RPC login, and a customer's daemon it
// peers with, where the miner's wallet-rpc submits its payments: monerod
// publishes txpool_add only for transactions that arrive from a peer.
type monerodFixture struct {
	net       *monerotest.Net
	miner     *monerotest.WalletRPC
	minerAddr string
}

const daemonLogin = "ipnd:zmq-Pa55"

var (
	fxOnce sync.Once
	fx     *monerodFixture
	fxErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fx != nil {
		fx.net.Close()
	}
	os.Exit(code)
}

func needMonerod(t *testing.T) *monerodFixture {
	t.Helper()
	fxOnce.Do(func() {
		start := time.Now()
		fx, fxErr = setupMonerod()
		t.Logf("monerod fixture ready in %s", time.Since(start).Round(time.Millisecond))
	})
	if fxErr != nil {
		if errors.Is(fxErr, monerotest.ErrMissing) {
			testenv.Unavailable(t, "%v", fxErr)
		}
		t.Fatalf("monero regtest setup: %v", fxErr)
	}
	return fx
}

func setupMonerod() (*monerodFixture, error) {
	if _, _, err := monerotest.Binaries(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := monerotest.StartWith(ctx, monerotest.Options{ZMQPub: true, Login: daemonLogin, Customer: true})
	if err != nil {
		return nil, err
	}
	f := &monerodFixture{net: n}
	fail := func(err error) (*monerodFixture, error) { n.Close(); return nil, err }
	// Started on the merchant's daemon (through its login), then switched.
	if f.miner, err = n.StartWalletRPC(ctx, "miner", monerotest.WalletOptions{}); err != nil {
		return fail(err)
	}
	if err := f.miner.CreateWallet(ctx, "miner"); err != nil {
		return fail(err)
	}
	if f.minerAddr, err = f.miner.PrimaryAddress(ctx); err != nil {
		return fail(err)
	}
	// Coinbase unlocks after 60 blocks; 80 are enough for a few transfers.
	if err := n.Mine(ctx, 80, f.minerAddr); err != nil {
		return fail(err)
	}
	if err := f.miner.UseDaemon(ctx, n.Customer); err != nil {
		return fail(err)
	}
	if err := n.WaitSynced(ctx); err != nil {
		return fail(err)
	}
	if _, err := f.miner.Client.Refresh(ctx); err != nil {
		return fail(err)
	}
	return f, nil
}

func ctxT(t *testing.T, limit time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

// subscribeMonerod subscribes to the merchant daemon's minimal topics.
func subscribeMonerod(t *testing.T, f *monerodFixture) (*zmqsub.Subscriber, <-chan zmqsub.Event) {
	t.Helper()
	s, err := zmqsub.New(zmqsub.Options{
		Name: "xmr", Endpoints: []string{f.net.Main.ZMQPub}, Format: zmqsub.FormatMonero,
		Topics: []string{zmqsub.TopicMoneroTxPoolAdd, zmqsub.TopicMoneroChainMain},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Events(ctx, 64)
	t.Cleanup(func() {
		cancel()
		for range ch {
		}
	})
	return s, ch
}

// waitEvent returns the first event matching match, skipping others, within
// limit.
func waitEvent(t *testing.T, ch <-chan zmqsub.Event, limit time.Duration, what string, match func(zmqsub.Event) bool) zmqsub.Event {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("waiting for %s: event channel closed", what)
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s within %s", what, limit)
		}
	}
}

func isResync(r zmqsub.Reason) func(zmqsub.Event) bool {
	return func(ev zmqsub.Event) bool { return ev.Kind == zmqsub.KindResync && ev.Reason == r }
}

// chainMainAt matches a json-minimal-chain_main event for the block at
// height.
func chainMainAt(t *testing.T, height int64) func(zmqsub.Event) bool {
	return func(ev zmqsub.Event) bool {
		if ev.Kind != zmqsub.KindMessage || ev.Topic != zmqsub.TopicMoneroChainMain {
			return false
		}
		c, err := zmqsub.ParseMoneroChainMain(ev.Body)
		if err != nil {
			t.Fatalf("chain_main from monerod does not decode: %v: %s", err, ev.Body)
		}
		return c.FirstHeight <= uint64(height) && uint64(height) <= c.TipHeight()
	}
}

// mineAndSee mines one block on the merchant's daemon and waits for its
// chain_main event; it returns the block's height, when generateblocks
// returned and the event.
func mineAndSee(t *testing.T, ctx context.Context, f *monerodFixture, ch <-chan zmqsub.Event) (int64, time.Time, time.Time, zmqsub.Event) {
	t.Helper()
	h, err := f.net.Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	called := time.Now()
	if _, err := f.net.Daemon.GenerateBlocks(ctx, 1, f.minerAddr); err != nil {
		t.Fatal(err)
	}
	returned := time.Now()
	ev := waitEvent(t, ch, 30*time.Second, fmt.Sprintf("chain_main for block %d", h), chainMainAt(t, h))
	return h, returned, called, ev
}

// subscribed waits for the connection, then for proof that the
// subscription has reached monerod (PUB drops what it publishes before).
func subscribed(t *testing.T, ctx context.Context, f *monerodFixture, ch <-chan zmqsub.Event) {
	t.Helper()
	waitEvent(t, ch, 30*time.Second, "connected", isResync(zmqsub.ReasonConnected))
	mineUntilSeen(t, ctx, f, ch)
}

// mineUntilSeen mines one block at a time until a chain_main event for it
// arrives (within 2 s of mining), at most 10 blocks.
func mineUntilSeen(t *testing.T, ctx context.Context, f *monerodFixture, ch <-chan zmqsub.Event) {
	t.Helper()
	for try := 0; try < 10; try++ {
		h, err := f.net.Height(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.net.Daemon.GenerateBlocks(ctx, 1, f.minerAddr); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(2 * time.Second)
	wait:
		for {
			select {
			case ev := <-ch:
				if chainMainAt(t, h)(ev) {
					return
				}
			case <-timeout:
				break wait
			}
		}
	}
	t.Fatal("no chain_main event after mining 10 blocks")
}

// TestMonerodTxPoolAndChainMain pays through the customer's daemon and sees
// the merchant's daemon publish the transaction, then the block.
func TestMonerodTxPoolAndChainMain(t *testing.T) {
	f := needMonerod(t)
	ctx := ctxT(t, 3*time.Minute)
	sub, ch := subscribeMonerod(t, f)
	subscribed(t, ctx, f, ch)
	if err := f.net.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.miner.Client.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	// When the merchant's daemon shows the transaction over RPC, for
	// comparison with the event.
	var inPoolAt time.Time
	pollDone := make(chan struct{})
	txidCh := make(chan string, 1)
	go func() {
		defer close(pollDone)
		txid := <-txidCh
		for ctx.Err() == nil {
			in, _, err := f.net.Main.TxStatus(ctx, txid)
			if err == nil && in[txid] {
				inPoolAt = time.Now()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	sent := time.Now()
	txid, err := f.miner.Transfer(ctx, monerotest.Destination{Address: f.minerAddr, Amount: 1_250_000_000_000})
	if err != nil {
		t.Fatal(err)
	}
	returned := time.Now()
	txidCh <- txid
	ev := waitEvent(t, ch, 60*time.Second, "txpool_add of "+txid, func(ev zmqsub.Event) bool {
		if ev.Kind != zmqsub.KindMessage || ev.Topic != zmqsub.TopicMoneroTxPoolAdd {
			return false
		}
		txs, err := zmqsub.ParseMoneroTxPoolAdd(ev.Body)
		if err != nil {
			t.Fatalf("txpool_add from monerod does not decode: %v: %s", err, ev.Body)
		}
		for _, tx := range txs {
			if tx.ID == txid {
				if tx.Fee == 0 || tx.BlobSize == 0 || tx.Weight == 0 {
					t.Fatalf("txpool_add entry without sizes or fee: %+v", tx)
				}
				return true
			}
		}
		return false
	})
	<-pollDone
	t.Logf("transfer call %s; relay customer → merchant: txpool_add event %s after transfer returned; event %+.1f ms vs the pool shown by RPC (10 ms polling)",
		returned.Sub(sent).Round(time.Millisecond), ev.Time.Sub(returned).Round(time.Millisecond),
		float64(ev.Time.Sub(inPoolAt))/float64(time.Millisecond))

	height, genReturned, genCalled, block := mineAndSee(t, ctx, f, ch)
	c, _ := zmqsub.ParseMoneroChainMain(block.Body)
	hdr, err := f.net.Daemon.BlockHeaderByHeight(ctx, height)
	if err != nil {
		t.Fatal(err)
	}
	if c.IDs[height-int64(c.FirstHeight)] != hdr.Hash {
		t.Fatalf("chain_main ids %v, want block %d = %s", c.IDs, height, hdr.Hash)
	}
	t.Logf("chain_main event %+.1f ms after generateblocks returned (call took %s)",
		float64(block.Time.Sub(genReturned))/float64(time.Millisecond), genReturned.Sub(genCalled).Round(time.Millisecond))
	if h := sub.Health(); !h.Connected || h.Endpoints[0].Messages < 3 || h.Endpoints[0].Malformed != 0 {
		t.Fatalf("health %+v", h)
	}
}

// TestMonerodLockedTransfer: wallet-rpc 0.18 accepts unlock_time 2^64-1,
// the daemons relay it and the transaction carries it.
func TestMonerodLockedTransfer(t *testing.T) {
	f := needMonerod(t)
	ctx := ctxT(t, 3*time.Minute)
	if err := f.net.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.miner.Client.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	txid, err := f.miner.TransferLocked(ctx, math.MaxUint64, monerotest.Destination{Address: f.minerAddr, Amount: 1_000_000_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.net.Main.WaitTx(ctx, time.Minute, txid); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Txs []struct {
			AsJSON string `json:"as_json"`
		} `json:"txs"`
	}
	if err := f.net.Daemon.Plain(ctx, "/get_transactions", map[string]any{"txs_hashes": []string{txid}, "decode_as_json": true}, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Txs) != 1 {
		t.Fatalf("get_transactions %s: %d txs", txid, len(out.Txs))
	}
	var tx struct {
		UnlockTime json.Number `json:"unlock_time"`
	}
	dec := json.NewDecoder(strings.NewReader(out.Txs[0].AsJSON))
	dec.UseNumber()
	if err := dec.Decode(&tx); err != nil {
		t.Fatal(err)
	}
	if tx.UnlockTime != "18446744073709551615" {
		t.Fatalf("unlock_time %s, want 2^64-1", tx.UnlockTime)
	}
	if _, err := f.net.MineTx(ctx, f.minerAddr, txid); err != nil {
		t.Fatal(err)
	}
}

// TestMonerodRestartReconnects stops the merchant's daemon: the subscriber
// says so, reconnects by itself once the daemon is back (with its chain), and
// events flow again.
func TestMonerodRestartReconnects(t *testing.T) {
	f := needMonerod(t)
	ctx := ctxT(t, 3*time.Minute)
	sub, ch := subscribeMonerod(t, f)
	subscribed(t, ctx, f, ch)
	before, err := f.net.Height(ctx)
	if err != nil {
		t.Fatal(err)
	}

	stopCalled := time.Now()
	f.net.Main.Stop()
	stopped := time.Now()
	down := waitEvent(t, ch, 30*time.Second, "disconnected", func(ev zmqsub.Event) bool { return ev.Kind == zmqsub.KindDisconnected })
	if h := sub.Health(); h.Connected {
		t.Fatalf("health says connected while monerod is stopped: %+v", h)
	}
	startCalled := time.Now()
	if err := f.net.Main.Start(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	back := waitEvent(t, ch, 30*time.Second, "reconnected", isResync(zmqsub.ReasonReconnected))
	t.Logf("monerod stop took %s, disconnect seen %+.0f ms after SIGTERM; start took %s, reconnected %+.0f ms after its RPC answered",
		stopped.Sub(stopCalled).Round(time.Millisecond), float64(down.Time.Sub(stopCalled))/float64(time.Millisecond),
		up.Sub(startCalled).Round(time.Millisecond), float64(back.Time.Sub(up))/float64(time.Millisecond))

	after, err := f.net.Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("height %d after the restart, %d before: the chain was not kept", after, before)
	}
	if err := f.net.WaitPeered(ctx); err != nil {
		t.Fatal(err)
	}
	// The subscription is renewed on the new connection: blocks are
	// published to us again.
	mineUntilSeen(t, ctx, f, ch)
	if h := sub.Health(); !h.Connected || h.Reconnects != 1 {
		t.Fatalf("health %+v, want connected after 1 reconnect", h)
	}
}

// TestMonerodLogin: the merchant's daemon runs --rpc-login; without the
// credentials it answers 401.
func TestMonerodLogin(t *testing.T) {
	f := needMonerod(t)
	ctx := ctxT(t, time.Minute)
	if f.net.Main.Login != daemonLogin {
		t.Fatalf("Login = %q", f.net.Main.Login)
	}
	if _, err := f.net.Daemon.GetInfo(ctx); err != nil {
		t.Fatalf("with the login: %v", err)
	}
	resp, err := http.Post(f.net.Main.URL+"/json_rpc", "application/json",
		strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"get_info"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Digest") {
		t.Fatalf("without the login: HTTP %d %q, want 401 with a digest challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if f.miner.Daemon() != f.net.Customer {
		t.Fatalf("miner wallet-rpc uses %s, want the customer daemon", f.miner.Daemon().Name)
	}
}
