package bitcoin

import (
	"bytes"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/rpcproxy"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/ledger"
)

// logBuffer collects a watcher's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// proxiedEnv is a polling watcher of the shared node behind a recording
// proxy, logging into a buffer.
func proxiedEnv(t *testing.T, cfg WatcherConfig) (*env, *rpcproxy.Proxy, *logBuffer) {
	t.Helper()
	e := newEnv(t, nil, P2WPKH, 5)
	p := rpcproxy.New(t, e.node.RPCHost)
	logs := &logBuffer{}
	cfg.GapLimit, cfg.PollInterval, cfg.ProgressInterval = 5, 20*time.Millisecond, time.Hour
	cfg.Push = PushConfig{Mode: PushOff}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	e.w = NewWatcher(e.clientAt(p.Host), e.ledger, e.d, cfg)
	e.w.pool.cfg.FullEvery = 0
	e.alloc = NewAllocator(e.d, e.ledger, e.w)
	return e, p, logs
}

// witnessFlag serializes tx with another segwit flag byte (Litecoin's
// MWEB uses 0x08 and 0x09): btcd's decoder refuses it.
func witnessFlag(t *testing.T, raw []byte, flag byte) []byte {
	t.Helper()
	if len(raw) < 6 || raw[4] != 0 || raw[5] != 1 {
		t.Fatalf("not a segwit serialization: %x", raw[:6])
	}
	out := bytes.Clone(raw)
	out[5] = flag
	return out
}

// A mempool transaction in a format the decoder refuses (a crafted flag
// byte 0x09, as a Litecoin MWEB peg-in has) is logged once, counted and
// skipped; the payment in another transaction of the same poll is
// recorded.
func TestWatcherSkipsUndecodableTransaction(t *testing.T) {
	e, p, logs := proxiedEnv(t, WatcherConfig{})
	e.poll()
	addr, addr2 := e.allocate(), e.allocate()
	bad := e.node.Build([]btcdtest.Output{{Address: addr, Amount: 81_000}}, false, 0)
	badID := btcdtest.TxID(bad)
	p.ServeRawTransaction(badID, hex.EncodeToString(witnessFlag(t, rawTx(t, bad), 0x09)))
	p.AddToMempool(badID)
	good := e.node.Pay(btcdtest.Output{Address: addr2, Amount: 82_000})
	e.poll()
	e.wantDeposit(addr2, btcdtest.TxID(good), ledger.StatusMempool, 82_000, 0)
	if got := e.status(addr, badID); got != "" {
		t.Fatalf("the undecodable transaction was recorded: %s", got)
	}
	e.poll()
	e.poll()
	if n := e.w.undecodableTxs(); n != 1 {
		t.Fatalf("undecodable transactions counted %d, want 1", n)
	}
	if n := logs.count("mempool transaction does not decode; skipped"); n != 1 || logs.count(badID) == 0 {
		t.Fatalf("logged %d times (want once, with its txid)", n)
	}
	if calls := p.Calls("getrawtransaction"); calls > 3 {
		t.Fatalf("getrawtransaction called %d times: the bad transaction was fetched again", calls)
	}
	if st := e.w.Status(); st.State != chains.Synced {
		t.Fatalf("status %+v", st)
	}
}

// A block that does not decode stops the chain below it with an error
// saying so (behind: /readyz 503), never skipped; once the node serves it
// whole, the watcher goes on.
func TestWatcherStopsAtUndecodableBlock(t *testing.T) {
	e, p, _ := proxiedEnv(t, WatcherConfig{})
	e.poll()
	addr := e.allocate()
	tx := e.node.Pay(btcdtest.Output{Address: addr, Amount: 83_000})
	hash := e.node.Generate(1)[0]
	height := e.node.Height()
	raw, err := e.node.RPC.GetBlock(hash)
	if err != nil {
		t.Fatal(err)
	}
	var blk bytes.Buffer
	if err := raw.Serialize(&blk); err != nil {
		t.Fatal(err)
	}
	p.ServeBlock(hash.String(), hex.EncodeToString(blk.Bytes()[:blk.Len()-1]))
	err = e.w.Poll(e.ctx)
	if !errors.Is(err, ErrUndecodableBlock) {
		t.Fatalf("poll: %v, want ErrUndecodableBlock", err)
	}
	st := e.w.Status()
	if st.State != chains.Behind || !strings.Contains(st.Error, hash.String()) || st.Height != height-1 {
		t.Fatalf("status %+v: want behind at %d, naming block %s", st, height-1, hash)
	}
	if tip, _, _ := e.ledger.Tip(e.ctx, chains.BTC); tip.Height != height-1 {
		t.Fatalf("ledger tip %d, want %d: the block was skipped", tip.Height, height-1)
	}
	p.ClearRewrites()
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 83_000, 1)
}

// A pruned node's "Block not available (pruned data)" stops the chain with
// a message telling how to resume; raising start_height above the
// ledger's tip resumes past the missing blocks.
func TestWatcherPrunedBlock(t *testing.T) {
	e, p, _ := proxiedEnv(t, WatcherConfig{})
	e.poll()
	addr := e.allocate()
	lost := e.node.Pay(btcdtest.Output{Address: addr, Amount: 84_000})
	e.node.Generate(2)
	p.Fail("getblock", -1, "Block not available (pruned data)")
	err := e.w.Poll(e.ctx)
	if !errors.Is(err, ErrPrunedBlock) {
		t.Fatalf("poll: %v, want ErrPrunedBlock", err)
	}
	for _, want := range []string{"bitcoin.start_height", "pruneheight", "bitcoin.rpc_host"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %s", err, want)
		}
	}
	if st := e.w.Status(); st.State != chains.Behind {
		t.Fatalf("status %+v", st)
	}
	// The operator skips to the node's tip: a restarted watcher with
	// start_height above the ledger's tip.
	p.ClearRewrites()
	tipHeight := e.node.Height()
	e.w = NewWatcher(e.clientAt(p.Host), e.ledger, e.d, WatcherConfig{GapLimit: 5, StartHeight: tipHeight + 1,
		Push: PushConfig{Mode: PushOff}})
	e.alloc = NewAllocator(e.d, e.ledger, e.w)
	e.poll()
	if tip, _, _ := e.ledger.Tip(e.ctx, chains.BTC); tip.Height != tipHeight {
		t.Fatalf("ledger tip %d, want %d", tip.Height, tipHeight)
	}
	if got := e.status(addr, btcdtest.TxID(lost)); got == ledger.StatusConfirmed {
		t.Fatal("a payment in a skipped block was confirmed")
	}
	tx := e.node.Pay(btcdtest.Output{Address: addr, Amount: 85_000})
	e.node.Generate(1)
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 85_000, 1)
}

// A fetch of pushed transactions that fails part way (the node does not
// answer within rpc_timeout) loses nothing: the round fails, and the next
// one looks at the whole mempool again and records the payment, although
// push is working and the safety poll is an hour away.
func TestWatcherMempoolFetchFailureLosesNothing(t *testing.T) {
	e, p, _ := proxiedEnv(t, WatcherConfig{})
	e.w = NewWatcher(NewClient(RPCConfig{Host: p.Host, User: e.node.User, Password: config.Secret(e.node.Pass), Timeout: time.Second}),
		e.ledger, e.d, WatcherConfig{GapLimit: 5, Push: PushConfig{Mode: PushOff}, PollInterval: time.Hour})
	e.alloc = NewAllocator(e.d, e.ledger, e.w)
	e.poll()
	addr := e.allocate()
	e.w.pushUp("test", true) // as if a push source worked
	tx := e.node.Pay(btcdtest.Output{Address: addr, Amount: 86_000})
	e.w.pushTxIDs(tx.TxHash())
	p.Hang("getrawtransaction")
	if err := e.w.Poll(e.ctx); err == nil || !strings.Contains(err.Error(), "bitcoin.rpc_timeout") {
		t.Fatalf("poll with getrawtransaction hanging: %v, want a timeout naming bitcoin.rpc_timeout", err)
	}
	p.Release()
	e.poll()
	e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusMempool, 86_000, 0)
}

// A block output whose value is above Bitcoin's 21 million coins (a node
// serving crafted data: the header hash does not cover it) is skipped and
// logged; the block is recorded and the other payment in it credited.
func TestWatcherSkipsOutOfRangeValue(t *testing.T) {
	e, p, logs := proxiedEnv(t, WatcherConfig{})
	e.poll()
	addr, addr2 := e.allocate(), e.allocate()
	crafted := e.node.Pay(btcdtest.Output{Address: addr, Amount: 84_000})
	good := e.node.Pay(btcdtest.Output{Address: addr2, Amount: 85_000})
	hash := e.node.Generate(1)[0]
	blk, err := e.node.RPC.GetBlock(hash)
	if err != nil {
		t.Fatal(err)
	}
	const tooMuch = 21_000_000*100_000_000 + 1
	n, craftedID := 0, ""
	for _, tx := range blk.Transactions {
		if tx.TxHash().String() != btcdtest.TxID(crafted) {
			continue
		}
		for _, out := range tx.TxOut {
			if out.Value == 84_000 {
				out.Value, n = tooMuch, n+1
			}
		}
		craftedID = tx.TxHash().String() // the value is part of the id
	}
	if n != 1 {
		t.Fatalf("changed %d outputs, want 1", n)
	}
	var buf bytes.Buffer
	if err := blk.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	p.ServeBlock(hash.String(), hex.EncodeToString(buf.Bytes()))
	e.poll()
	e.wantDeposit(addr2, btcdtest.TxID(good), ledger.StatusConfirmed, 85_000, 1)
	if tot, ds, _ := e.deposits(addr); len(ds) != 0 {
		t.Fatalf("the out-of-range output was recorded: %+v %+v", tot, ds)
	}
	if tip, _, _ := e.ledger.Tip(e.ctx, chains.BTC); tip.Hash != hash.String() {
		t.Fatalf("ledger tip %+v, want the block %s", tip, hash)
	}
	if logs.count("output value out of range") != 1 || logs.count(craftedID) == 0 {
		t.Fatalf("want one log line naming %s:\n%s", craftedID, logs.b.String())
	}
	if st := e.w.Status(); st.State != chains.Synced {
		t.Fatalf("status %+v", st)
	}
}
