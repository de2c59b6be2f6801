package btcdtest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

func TestMain(m *testing.M) {
	code := m.Run()
	CloseShared()
	os.Exit(code)
}

// mined returns the hash of the block holding txid ("" when unconfirmed).
func mined(t *testing.T, n *Node, txid string) string {
	t.Helper()
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.RPC.GetRawTransactionVerbose(h)
	if err != nil {
		t.Fatalf("getrawtransaction %s: %v", txid, err)
	}
	return res.BlockHash
}

func TestPayMineReplaceInvalidate(t *testing.T) {
	a := Shared(t)
	other := NewWallet(t).Address.EncodeAddress()
	tx := a.Pay(Output{Address: other, Amount: 12345})
	a.WaitMempool(TxID(tx), true)
	hs := a.Generate(1)
	if got := mined(t, a, TxID(tx)); got != hs[0].String() {
		t.Fatalf("payment mined in %q, want the new block %s", got, hs[0])
	}
	if a.InMempool(TxID(tx)) {
		t.Fatal("mined payment still reported in the mempool")
	}

	// A replacement (higher fee, RBF) evicts the first spend.
	first, second := a.Conflicting([]Output{{Address: other, Amount: 1000}},
		[]Output{{Address: a.Wallet.Address.EncodeAddress(), Amount: 1000}})
	if err := a.Send(first); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(second); err != nil {
		t.Fatalf("replacement refused: %v", err)
	}
	a.WaitMempool(TxID(first), false)
	a.WaitMempool(TxID(second), true)

	// invalidateblock returns a block's transactions to the mempool.
	tx2 := a.Pay(Output{Address: other, Amount: 777})
	hs = a.Generate(1)
	a.InvalidateBlock(*hs[0])
	a.WaitMempool(TxID(tx2), true)
	a.Generate(1)
}

func TestFillMempool(t *testing.T) {
	a := Shared(t)
	const count = 2_000
	f := a.FillMempool(FillOptions{Count: count, FanOut: 700})
	if len(f.Txids) != count || f.Blocks < 1 {
		t.Fatalf("fill: %d txids, %d blocks", len(f.Txids), f.Blocks)
	}
	t.Logf("fill of %d: prepare %v, submit %v (%.0f tx/s), %d blocks", count, f.Prepare, f.Submit, f.Rate(), f.Blocks)
	inPool := func() int {
		pool := map[string]bool{}
		for _, id := range a.Mempool() {
			pool[id] = true
		}
		k := 0
		for _, h := range f.Txids {
			if pool[h.String()] {
				k++
			}
		}
		return k
	}
	if got := inPool(); got != count {
		t.Fatalf("%d of the %d fill transactions in the mempool", got, count)
	}

	// The fee-less fill stays in the mempool when blocks are mined; a
	// payment with a fee is mined.
	pay := a.Pay(Output{Address: NewWallet(t).Address.EncodeAddress(), Amount: 5000})
	hs := a.Generate(1)
	if got := mined(t, a, TxID(pay)); got != hs[0].String() {
		t.Fatalf("payment mined in %q, want %s", got, hs[0])
	}
	if got := inPool(); got != count {
		t.Fatalf("%d of the %d fill transactions left in the mempool after a block", got, count)
	}

	// With a fee they are mined like any payment.
	paid := a.FillMempool(FillOptions{Count: 10, FeeRate: 1})
	a.Generate(1)
	for _, h := range paid.Txids {
		if mined(t, a, h.String()) == "" {
			t.Fatalf("fill transaction %s with a fee not mined", h)
		}
	}
}

func TestPauseResume(t *testing.T) {
	a := Shared(t)
	before := a.CPUTime()
	if rss := a.RSS(); rss < 10<<20 {
		t.Fatalf("RSS %d bytes: implausible for btcd", rss)
	}
	a.Pause()
	paused := true
	defer func() {
		if paused {
			a.Resume()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+a.RPCHost+"/",
		strings.NewReader(`{"jsonrpc":"1.0","id":1,"method":"getblockcount","params":[]}`))
	req.SetBasicAuth(a.User, a.Pass)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a paused node answered: %s", resp.Status)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call to a paused node: %v, want a timeout", err)
	}
	a.Resume()
	paused = false
	a.Height()
	if a.CPUTime() < before {
		t.Fatal("CPU time went backwards")
	}
}

func TestRestartKeepChain(t *testing.T) {
	a := Shared(t)
	other := NewWallet(t).Address.EncodeAddress()
	old := a.Pay(Output{Address: other, Amount: 4321})
	block := a.Generate(1)[0].String()
	pending := a.Pay(Output{Address: other, Amount: 1234})
	height, best := a.Height(), a.BestHash()

	start := time.Now()
	a.RestartKeepChain()
	t.Logf("restart keeping %d blocks: %v", height, time.Since(start))
	if a.Height() != height || a.BestHash() != best {
		t.Fatalf("after restart: %d %s, want %d %s", a.Height(), a.BestHash(), height, best)
	}
	if got := mined(t, a, TxID(old)); got != block {
		t.Fatalf("mined payment in %q after restart, want %s (txindex rebuilt)", got, block)
	}
	if a.InMempool(TxID(pending)) {
		t.Fatal("btcd kept its mempool across a restart")
	}
	// The wallet goes on paying from the chain it kept.
	tx := a.Pay(Output{Address: other, Amount: 999})
	a.WaitMempool(TxID(tx), true)
}

// btcd's --regtest removes its database at start: Restart begins a new chain.
func TestRestartWipes(t *testing.T) {
	n := Start(t, Options{})
	n.Generate(3)
	n.Restart()
	if h := n.Height(); h != 0 {
		t.Fatalf("height %d after a restart, want 0 (btcd --regtest wipes its chain)", h)
	}
	n.Fund()
	n.Pay(Output{Address: NewWallet(t).Address.EncodeAddress(), Amount: 1000})
}

func TestFork(t *testing.T) {
	a := Shared(t)
	b := Start(t, Options{Wallet: a.Wallet})
	b.Connect(a)
	f := Split(a, b)
	customer := NewWallet(t).Address.EncodeAddress()
	tx := f.PayBoth(Output{Address: customer, Amount: 10_000})
	stale := f.MineBoth()
	if got := mined(t, a, TxID(tx)); got != stale.String() {
		t.Fatalf("A: payment in %q, want A's block %s", got, stale)
	}
	if got := mined(t, b, TxID(tx)); got != f.Winner[0].String() {
		t.Fatalf("B: payment in %q, want B's block %s", got, f.Winner[0])
	}
	winner := f.Join(1)
	if a.BestHash() != winner[len(winner)-1] {
		t.Fatalf("A's tip %s, want B's %s", a.BestHash(), winner[len(winner)-1])
	}
	if got := mined(t, a, TxID(tx)); got != winner[0].String() {
		t.Fatalf("A after the reorg: payment in %q, want B's block %s", got, winner[0])
	}
	if a.InMempool(TxID(tx)) {
		t.Fatal("A lists the payment in its mempool although B's block holds it")
	}
}
