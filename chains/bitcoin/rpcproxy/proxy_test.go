package rpcproxy_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/rpcproxy"
)

func TestMain(m *testing.M) {
	code := m.Run()
	btcdtest.CloseShared()
	os.Exit(code)
}

func client(t *testing.T, n *btcdtest.Node, p *rpcproxy.Proxy) *rpcclient.Client {
	t.Helper()
	c, err := rpcclient.New(&rpcclient.ConnConfig{Host: p.Host, User: n.User, Pass: n.Pass, HTTPPostMode: true, DisableTLS: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

// post sends body to the proxy and returns the reply.
func post(t *testing.T, ctx context.Context, n *btcdtest.Node, p *rpcproxy.Proxy, body string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.Host+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(n.User, n.Pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.Header.Get("Connection") != "close" && !resp.Close {
		t.Errorf("reply without Connection: close")
	}
	return string(b), err
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCounts(t *testing.T) {
	n := btcdtest.Shared(t)
	p := rpcproxy.New(t, n.RPCHost)
	c := client(t, n, p)
	for range 3 {
		if _, err := c.GetBlockCount(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.GetBestBlockHash(); err != nil {
		t.Fatal(err)
	}
	reply, err := post(t, context.Background(), n, p, `[{"jsonrpc":"1.0","id":1,"method":"getblockhash","params":[0]},`+
		`{"jsonrpc":"1.0","id":2,"method":"getblockhash","params":[1]},{"jsonrpc":"1.0","id":3,"method":"getblockcount","params":[]}]`)
	if err != nil {
		t.Fatal(err)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal([]byte(reply), &elems); err != nil || len(elems) != 3 {
		t.Fatalf("batch reply %q: %v", reply, err)
	}
	// btcd closes the connection on a body that is not JSON; the proxy too.
	if r, err := post(t, context.Background(), n, p, `not json`); err == nil {
		t.Fatalf("not JSON: answered %q", r)
	}
	want := map[string]int64{"getblockcount": 4, "getbestblockhash": 1, "getblockhash": 2, "": 1}
	got := p.AllCalls()
	for m, k := range want {
		if got[m] != k {
			t.Errorf("%q: %d calls, want %d (all: %v)", m, got[m], k, got)
		}
	}
	if p.TotalCalls() != 8 || p.HTTPRequests() != 6 {
		t.Errorf("total %d calls in %d requests, want 8 in 6", p.TotalCalls(), p.HTTPRequests())
	}
	p.Reset()
	if p.TotalCalls() != 0 || p.HTTPRequests() != 0 {
		t.Error("Reset left counts")
	}
}

func TestHostileAnswers(t *testing.T) {
	n := btcdtest.Shared(t)
	p := rpcproxy.New(t, n.RPCHost)
	c := client(t, n, p)

	// A real segwit transaction with its flag byte (after the 0x00 marker)
	// changed to 0x02, which no decoder knows, under a txid the node never
	// saw, listed in the mempool.
	tx := n.Pay(btcdtest.Output{Address: btcdtest.NewWallet(t).Address.EncodeAddress(), Amount: 5000})
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	if raw[4] != 0x00 || raw[5] != 0x01 {
		t.Fatalf("not a segwit serialization: % x", raw[:6])
	}
	raw[5] = 0x02
	fake := strings.Repeat("ab", 32)
	p.AddToMempool(fake)
	p.ServeRawTransaction(fake, hex.EncodeToString(raw))

	pool, err := c.GetRawMempool()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, h := range pool {
		found[h.String()] = true
	}
	if !found[fake] || !found[btcdtest.TxID(tx)] {
		t.Fatalf("mempool through the proxy lacks the fake (%v) or the real (%v) txid", found[fake], found[btcdtest.TxID(tx)])
	}
	verbose, err := c.GetRawMempoolVerbose()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := verbose[fake]; !ok {
		t.Fatal("verbose mempool lacks the fake txid")
	}
	h, _ := chainhash.NewHashFromStr(fake)
	if _, err := c.GetRawTransaction(h); err == nil || !strings.Contains(err.Error(), "flag") {
		t.Fatalf("decoding the crafted transaction: %v, want a flag byte error", err)
	}
	res, err := c.GetRawTransactionVerbose(h)
	if err != nil || res.Hex != hex.EncodeToString(raw) || res.Txid != fake {
		t.Fatalf("verbose crafted transaction: %+v %v", res, err)
	}
	// Other transactions pass unchanged.
	real, err := c.GetRawTransaction(ptr(tx.TxHash()))
	if err != nil || real.Hash() == nil || *real.Hash() != tx.TxHash() {
		t.Fatalf("real transaction through the proxy: %v", err)
	}

	// A pruned node's answer.
	p.Fail("getblock", -1, "Block not available (pruned data)")
	_, err = c.GetBlock(ptr(n.BestHash()))
	var rpcErr *btcjson.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code != -1 || !strings.Contains(rpcErr.Message, "pruned") {
		t.Fatalf("getblock: %v, want the pruned error", err)
	}
	p.ClearRewrites()
	if _, err := c.GetBlock(ptr(n.BestHash())); err != nil {
		t.Fatal(err)
	}

	// A block that does not decode.
	best := n.BestHash()
	p.ServeBlock(best.String(), "00")
	if _, err := c.GetBlock(&best); err == nil {
		t.Fatal("a one-byte block decoded")
	}
}

func TestHangDelayDown(t *testing.T) {
	n := btcdtest.Shared(t)
	p := rpcproxy.New(t, n.RPCHost)
	const call = `{"jsonrpc":"1.0","id":1,"method":"getblockcount","params":[]}`

	p.Hang("getblockcount")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err := post(t, ctx, n, p, call)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung call: %v, want no answer", err)
	}
	// Other methods pass.
	if _, err := post(t, context.Background(), n, p, `{"jsonrpc":"1.0","id":1,"method":"getbestblockhash","params":[]}`); err != nil {
		t.Fatal(err)
	}
	// A held call is answered once released.
	done := make(chan string, 1)
	before := p.Calls("getblockcount")
	go func() {
		r, _ := post(t, context.Background(), n, p, call)
		done <- r
	}()
	waitFor(t, "the call to reach the proxy", func() bool { return p.Calls("getblockcount") > before })
	p.Release()
	select {
	case r := <-done:
		if !strings.Contains(r, `"result":`) {
			t.Fatalf("released call: %q", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("released call not answered")
	}

	p.Delay("", 150*time.Millisecond)
	start := time.Now()
	if _, err := post(t, context.Background(), n, p, call); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatal("delay not applied")
	}
	p.Delay("", 0)

	p.SetDown(true)
	if _, err := post(t, context.Background(), n, p, call); err == nil {
		t.Fatal("a call through a down proxy succeeded")
	}
	p.SetDown(false)
	if _, err := post(t, context.Background(), n, p, call); err != nil {
		t.Fatal(err)
	}
}

func TestWebsocket(t *testing.T) {
	n := btcdtest.Shared(t)
	p := rpcproxy.New(t, n.RPCHost)
	blocks := make(chan chainhash.Hash, 16)
	c, err := rpcclient.New(&rpcclient.ConnConfig{
		Host: p.Host, Endpoint: "ws", User: n.User, Pass: n.Pass, DisableTLS: true, DisableAutoReconnect: true,
	}, &rpcclient.NotificationHandlers{
		OnFilteredBlockConnected: func(_ int32, h *wire.BlockHeader, _ []*btcutil.Tx) { blocks <- h.BlockHash() },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	if err := c.NotifyBlocks(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBlockCount(); err != nil {
		t.Fatal(err)
	}
	mined := n.Generate(1)[0]
	select {
	case h := <-blocks:
		if h != *mined {
			t.Fatalf("notified block %s, mined %s", h, mined)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no block notification through the proxy")
	}
	if p.Websockets() != 1 || p.Calls("notifyblocks") != 1 || p.Calls("getblockcount") != 1 {
		t.Fatalf("websockets %d, calls %v", p.Websockets(), p.AllCalls())
	}
	waitFor(t, "the notifications counted", func() bool {
		ns := p.Notifications()
		return ns["filteredblockconnected"] == 1 && ns["blockconnected"] == 1
	})

	// A hung node pushes nothing; released, the held push arrives.
	p.Hang("")
	mined = n.Generate(1)[0]
	select {
	case h := <-blocks:
		t.Fatalf("block %s notified through a hung proxy", h)
	case <-time.After(200 * time.Millisecond):
	}
	p.Release()
	select {
	case h := <-blocks:
		if h != *mined {
			t.Fatalf("notified block %s, mined %s", h, mined)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("held notification not delivered after Release")
	}

	p.CutWebsockets()
	waitFor(t, "the client to see the cut", c.Disconnected)
}

func ptr[T any](v T) *T { return &v }
