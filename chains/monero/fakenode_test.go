package monero_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/ledger"
)

// fakeNode answers the wallet-rpc and monerod methods the watcher uses, with
// get_transfers' result given as raw JSON: a hostile or broken wallet.
type fakeNode struct {
	mu        sync.Mutex
	height    int64 // get_info height (tip = height-1)
	transfers string
	calls     map[string]int
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/json_rpc" || json.Unmarshal(body, &req) != nil {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[req.Method]++
	result := "{}"
	switch req.Method {
	case "get_info":
		result = fmt.Sprintf(`{"height":%d,"target_height":0,"top_block_hash":"%064x","synchronized":true,"status":"OK","tx_pool_size":0}`, f.height, f.height)
	case "get_height":
		result = fmt.Sprintf(`{"height":%d}`, f.height)
	case "get_block_header_by_height":
		var p struct{ Height int64 }
		_ = json.Unmarshal(req.Params, &p)
		result = fmt.Sprintf(`{"block_header":{"height":%d,"hash":"%064x"}}`, p.Height, p.Height+1)
	case "get_transfers":
		result = f.transfers
		if strings.Contains(string(req.Params), `"pool":true`) {
			f.calls["get_transfers with pool"]++
		}
	}
	_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":"0","result":`+result+`}`)
}

type countingMetrics struct {
	mu      sync.Mutex
	skipped map[string]int
	polls   map[string]int
	events  map[string]int
	pushUp  []bool
}

func newCountingMetrics() *countingMetrics {
	return &countingMetrics{skipped: map[string]int{}, polls: map[string]int{}, events: map[string]int{}}
}

func (m *countingMetrics) ChainPoll(_ chains.Chain, kind string) {
	m.mu.Lock()
	m.polls[kind]++
	m.mu.Unlock()
}
func (m *countingMetrics) ChainPushEvent(_ chains.Chain, e string) {
	m.mu.Lock()
	m.events[e]++
	m.mu.Unlock()
}
func (m *countingMetrics) ChainTransferSkipped(_ chains.Chain, reason string) {
	m.mu.Lock()
	m.skipped[reason]++
	m.mu.Unlock()
}
func (m *countingMetrics) ChainPush(_ chains.Chain, _ string, up bool) {
	m.mu.Lock()
	m.pushUp = append(m.pushUp, up)
	m.mu.Unlock()
}

func (m *countingMetrics) snapshot() (skipped, polls map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, p := map[string]int{}, map[string]int{}
	for k, v := range m.skipped {
		s[k] = v
	}
	for k, v := range m.polls {
		p[k] = v
	}
	return s, p
}

func fakeAddr(c byte) string { return "8" + strings.Repeat(string(c), 94) }
func fakeTx(c byte) string   { return strings.Repeat(string(c), 64) }

// TestHostileTransfersAreSkippedNotStalling: a wallet-rpc answering
// get_transfers with every kind of odd number (negative, fractional,
// beyond uint64, strings, unlock_time 2^64-1, amounts past what a ledger
// total holds) never fails a poll: the good transfers are recorded on the
// SQLite ledger, the locked-for-ever one is kept as locked and counts
// nowhere, each bad one is counted once however often it is polled.
func TestHostileTransfersAreSkippedNotStalling(t *testing.T) {
	node := &fakeNode{height: 101, calls: map[string]int{}}
	entry := func(tx, addr byte, minor int, amount, height, unlock string) string {
		return fmt.Sprintf(`{"txid":"%s","address":"%s","amount":%s,"height":%s,"unlock_time":%s,"subaddr_index":{"major":0,"minor":%d}}`,
			fakeTx(tx), fakeAddr(addr), amount, height, unlock, minor)
	}
	node.transfers = `{"in":[` + strings.Join([]string{
		entry('1', 'a', 1, "5000", "90", "0"),                         // good
		entry('2', 'b', 2, "7", "91", "18446744073709551615"),         // unlock_time 2^64-1: locked for ever
		entry('3', 'c', 3, "-5", "90", "0"),                           // negative amount
		entry('4', 'c', 3, "5", "90.5", "0"),                          // fractional height
		entry('5', 'c', 3, "18446744073709551616", "90", "0"),         // amount 2^64
		entry('6', 'c', 3, `"5"`, "90", "0"),                          // amount as a string
		entry('7', 'c', 3, "5", "90", "1e30"),                         // unlock_time beyond uint64
		entry('8', 'c', 3, "9223372036854775808", "90", "0"),          // amount 2^63: more than a ledger holds
		entry('9', 'd', 4, "4611686018427387904", "92", "0"),          // 2^62 to d ...
		entry('e', 'd', 4, "4611686018427387904", "93", "0"),          // ... and again: the sum passes 2^63-1
		entry('f', 'c', 3, "5", "-1", "0"),                            // negative height
		entry('0', 'c', 4294967296, "5", "90", "0"),                   // subaddress index beyond uint32
		`{"txid":"` + fakeTx('a') + `","address":{"x":1},"amount":1}`, // address of the wrong type
		`17`, // not an object
	}, ",") + `],"pool":[` + entry('b', 'a', 1, "100", "0", "0") + `]}`
	srv := httptest.NewServer(node)
	defer srv.Close()
	wallet, _ := monero.NewWalletClient(srv.URL, monero.ClientOptions{})
	daemon, _ := monero.NewDaemonClient(srv.URL, monero.ClientOptions{})
	l := newLedger(t)
	m := newCountingMetrics()
	w := monero.NewWatcher(wallet, daemon, l, monero.WatcherConfig{Account: 0, Metrics: m})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := w.Poll(ctx); err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
	}
	if st := w.Status(); st.State != chains.Synced || st.Height != 100 {
		t.Fatalf("status %+v", st)
	}
	wantTotals(t, l, fakeAddr('a'), 1, 5000, 100)
	ds := wantTotals(t, l, fakeAddr('b'), 1, 0, 0)
	if len(ds) != 1 || ds[0].UnlockTime != ledger.UnlockNever || !ds[0].LockedForever() || ds[0].Status != ledger.StatusConfirmed {
		t.Fatalf("locked for ever: %s unlock %d", describe(ds), ds[0].UnlockTime)
	}
	wantTotals(t, l, fakeAddr('d'), 1, 1<<62, 0)
	if _, _, err := l.Balance(ctx, chains.XMR, fakeAddr('c'), 1); err == nil {
		t.Fatal("an address only bad transfers paid was recorded")
	}
	skipped, polls := m.snapshot()
	want := map[string]int{monero.SkipMalformed: 8, monero.SkipAmount: 1, monero.SkipTotalTooBig: 1, monero.SkipHeight: 1}
	for r, n := range want {
		if skipped[r] != n {
			t.Errorf("skipped %s: %d, want %d (all %v)", r, skipped[r], n, skipped)
		}
	}
	if polls[monero.PollInterval] != 3 {
		t.Errorf("polls %v", polls)
	}
	// A later honest payment proceeds.
	node.mu.Lock()
	node.transfers = strings.Replace(node.transfers, `],"pool":[`, ","+entry('c', 'a', 1, "1", "95", "0")+`],"pool":[`, 1)
	node.mu.Unlock()
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	wantTotals(t, l, fakeAddr('a'), 1, 5001, 100)
}

// TestRoundsWithPush: with push connected the watcher asks monerod only
// whether its tip or pool changed and polls the wallet when it did, on a
// push event, and every SafetyInterval; with push down (or not configured)
// it polls the wallet every round.
func TestRoundsWithPush(t *testing.T) {
	node := &fakeNode{height: 50, calls: map[string]int{}, transfers: `{}`}
	srv := httptest.NewServer(node)
	defer srv.Close()
	wallet, _ := monero.NewWalletClient(srv.URL, monero.ClientOptions{})
	daemon, _ := monero.NewDaemonClient(srv.URL, monero.ClientOptions{})
	m := newCountingMetrics()
	w := monero.NewWatcher(wallet, daemon, newLedger(t), monero.WatcherConfig{Metrics: m, SafetyInterval: time.Hour})
	ctx := context.Background()
	poll := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := w.Poll(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	transfersCalls := func() int { node.mu.Lock(); defer node.mu.Unlock(); return node.calls["get_transfers"] }
	poolCalls := func() int { node.mu.Lock(); defer node.mu.Unlock(); return node.calls["get_transfers with pool"] }
	poll(2) // no push configured: wallet polls
	if w.Status().Feed != "" || transfersCalls() != 2 {
		t.Fatalf("without push: %+v, %d wallet polls", w.Status(), transfersCalls())
	}
	w.SetPush(true, true)
	poll(5)
	_, polls := m.snapshot()
	if transfersCalls() != 2 || polls[monero.PollChangeCheck] != 5 || w.Status().Feed != monero.FeedZMQ || w.Status().State != chains.Synced {
		t.Fatalf("push connected, nothing changed: %d wallet polls, %v, %+v", transfersCalls(), polls, w.Status())
	}
	node.mu.Lock()
	node.height++ // a block
	node.mu.Unlock()
	// A block: the change check sees it; the wallet poll reads the mined
	// transfers only (keeping the last pool view), the next one the pool.
	poll(1)
	_, polls = m.snapshot()
	if transfersCalls() != 3 || poolCalls() != 2 || polls[monero.PollChange] != 1 || w.Status().Height != 50 {
		t.Fatalf("a block seen by the change check: %d wallet polls (%d with the pool), %v, %+v", transfersCalls(), poolCalls(), polls, w.Status())
	}
	poll(2)
	_, polls = m.snapshot()
	if transfersCalls() != 4 || poolCalls() != 3 || polls[monero.PollPoolAgain] != 1 || polls[monero.PollChangeCheck] != 7 {
		t.Fatalf("after the block: %d wallet polls (%d with the pool), %v", transfersCalls(), poolCalls(), polls)
	}
	w.PushEvent("json-minimal-txpool_add")
	poll(1)
	_, polls = m.snapshot()
	if transfersCalls() != 5 || polls[monero.PollPush] != 1 {
		t.Fatalf("push event: %d wallet polls, %v", transfersCalls(), polls)
	}
	w.SetPush(true, false) // publisher gone: poll the wallet every round
	poll(2)
	if transfersCalls() != 7 || w.Status().Feed != monero.FeedPolling {
		t.Fatalf("push down: %d wallet polls, %+v", transfersCalls(), w.Status())
	}
	m.mu.Lock()
	ups := append([]bool(nil), m.pushUp...)
	m.mu.Unlock()
	if len(ups) != 2 || !ups[0] || ups[1] {
		t.Fatalf("push connected metric: %v", ups)
	}
	// SafetyInterval passed: a wallet poll although nothing changed.
	ws := monero.NewWatcher(wallet, daemon, newLedger(t), monero.WatcherConfig{Metrics: m, SafetyInterval: time.Nanosecond})
	ws.SetPush(true, true)
	before := transfersCalls()
	for i := 0; i < 3; i++ {
		if err := ws.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, polls = m.snapshot(); transfersCalls() != before+3 || polls[monero.PollSafety] != 3 {
		t.Fatalf("safety polls: %d wallet polls, %v", transfersCalls()-before, polls)
	}
}
