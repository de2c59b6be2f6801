package bitcoin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/ledger"
)

// TestLitecoinCore follows the package's litecoind (cookie auth,
// -prune=550, no -txindex) with addresses ipnd hands out, paid by the
// node's own wallet: through MWEB activation, a reorg, a restart with a new
// cookie and a shutdown. The subtests run in order on one chain: the first
// drives it from below height 431 past MWEB activation at 432.
func TestLitecoinCore(t *testing.T) {
	n := sharedLTC(t)
	if h := n.Height(); h > 300 {
		t.Fatalf("the shared litecoind is at height %d: the MWEB subtest needs to pay before block 432", h)
	}
	d, err := LitecoinFamily.NewDeriver("regtest", seededTPub(t, "litecoin core"), "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	e := newLTCEnv(t, n.With(t), d, 5)
	if n.Height() < 101 {
		n.Fund()
	}
	e.poll()

	t.Run("payments before, in and after MWEB activation", func(t *testing.T) {
		e.t, e.node = t, n.With(t)
		n := e.node
		// Before: a payment at the current height, followed from the mempool.
		a := e.allocate()
		txA := n.SendToAddress(a, 1_000_000)
		e.poll()
		e.wantDeposit(a, txA, ledger.StatusMempool, 1_000_000, 0)
		n.Generate(1)
		e.poll()
		e.wantDeposit(a, txA, ledger.StatusConfirmed, 1_000_000, 1)

		// Catch up to 431 in one poll.
		n.Generate(int(coretest.MWEBActivationHeight - 1 - n.Height()))
		e.poll()
		e.wantTip()

		// In: a payment waiting at 431 is mined in the activation block.
		b := e.allocate()
		txB := n.SendToAddress(b, 2_000_000)
		e.poll()
		e.wantDeposit(b, txB, ledger.StatusMempool, 2_000_000, 0)
		act := n.ActivateMWEB()
		e.poll()
		dB := e.wantDeposit(b, txB, ledger.StatusConfirmed, 2_000_000, 1)
		if dB.Height != coretest.MWEBActivationHeight || dB.BlockHash != act.BlockHash {
			t.Fatalf("payment in block %d %s, want the activation block %d %s", dB.Height, dB.BlockHash, act.Height, act.BlockHash)
		}

		// A wallet with MWEB coins only, for a peg-out below.
		mweb := mwebOnlyWallet(t, n, 200_000_000)
		e.poll()

		// After: a peg-in (flag 0x09) in the mempool beside a payment: both
		// are decoded, the payment is recorded.
		c := e.allocate()
		peg := n.PegIn()
		txC := n.SendToAddress(c, 3_000_000)
		n.WaitMempool(peg, true)
		e.poll()
		e.wantDeposit(c, txC, ledger.StatusMempool, 3_000_000, 0)
		if u := e.w.Undecodable(); u != 0 {
			t.Fatalf("%d mempool transactions did not decode", u)
		}

		// A peg-out: a wallet holding only MWEB coins pays an ipnd address;
		// the canonical output is the HogEx's, in the next block.
		p := e.allocate()
		pegout := mweb.send(p, 125_000_000)
		n.WaitMempool(pegout, true)
		e.poll()
		if tot := e.totals(p); tot.Confirmed != 0 || tot.Unconfirmed != 0 {
			t.Fatalf("a peg-out has no canonical output before it is mined: %+v", tot)
		}
		if u := e.w.Undecodable(); u != 0 {
			t.Fatalf("%d mempool transactions did not decode (the MWEB-only peg-out?)", u)
		}
		hs := n.Generate(1)
		e.poll()
		e.wantDeposit(c, txC, ledger.StatusConfirmed, 3_000_000, 1)
		hogex := lastTx(t, n, hs[0])
		e.wantDeposit(p, hogex, ledger.StatusConfirmed, 125_000_000, 1)

		n.Generate(3)
		e.poll()
		e.wantTip()
		for addr, want := range map[string]uint64{a: 1_000_000, b: 2_000_000, c: 3_000_000, p: 125_000_000} {
			if tot := e.totals(addr); tot.Confirmed != want || tot.Unconfirmed != 0 {
				t.Errorf("%s: totals %+v, want %d confirmed", addr, tot, want)
			}
		}
	})

	t.Run("invalidateblock reorg", func(t *testing.T) {
		e.t, e.node = t, n.With(t)
		n := e.node
		addr := e.allocate()
		tx := n.SendToAddress(addr, 4_200_000)
		hs := n.Generate(1)
		e.poll()
		e.wantDeposit(addr, tx, ledger.StatusConfirmed, 4_200_000, 1)
		n.InvalidateBlock(hs[0])
		n.WaitMempool(tx, true)
		e.poll()
		e.wantDeposit(addr, tx, ledger.StatusMempool, 4_200_000, 0)
		// Another coinbase address: the same template would give the
		// invalidated block again, which the node refuses.
		n.GenerateTo(n.NewAddress("bech32"), 2)
		e.poll()
		if d := e.wantDeposit(addr, tx, ledger.StatusConfirmed, 4_200_000, 2); d.BlockHash == hs[0] {
			t.Fatal("the deposit stayed in the invalidated block")
		}
		e.wantTip()
	})

	t.Run("restart with a new cookie", func(t *testing.T) {
		e.t, e.node = t, n.With(t)
		n := e.node
		_, before := n.Cookie()
		if took := n.Restart(); took > 5*time.Second {
			t.Errorf("the node took %v to stop: a connection of ipnd held it", took)
		}
		if _, after := n.Cookie(); after == before {
			t.Fatal("the restarted node kept its cookie")
		}
		addr := e.allocate()
		tx := n.SendToAddress(addr, 5_000_000)
		e.poll() // the client re-reads the cookie
		e.wantDeposit(addr, tx, ledger.StatusMempool, 5_000_000, 0)
		n.Generate(1)
		e.poll()
		e.wantDeposit(addr, tx, ledger.StatusConfirmed, 5_000_000, 1)
	})

	t.Run("litecoin-cli stop is not held by ipnd", func(t *testing.T) {
		e.t, e.node = t, n.With(t)
		n := e.node
		e.poll()
		start := time.Now()
		if out, err := n.CLI("stop"); err != nil {
			t.Fatalf("litecoin-cli stop: %v (%s)", err, out)
		}
		n.Stop() // waits for the process to exit
		took := time.Since(start)
		t.Logf("litecoin-cli stop to exit: %v", took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("litecoind took %v to exit after litecoin-cli stop: an idle connection of ipnd held it", took)
		}
		n.Restart() // back for the package's other tests
	})
}

// lastTx is the txid of the last transaction of a block: the HogEx once
// MWEB is active.
func lastTx(t *testing.T, n *coretest.Node, hash string) string {
	t.Helper()
	var b struct {
		Tx []string `json:"tx"`
	}
	n.Call("getblock", &b, hash, 1)
	if len(b.Tx) == 0 {
		t.Fatalf("block %s has no transactions", hash)
	}
	return b.Tx[len(b.Tx)-1]
}

// mwebWallet is a wallet of the node whose only coins are MWEB coins.
type mwebWallet struct {
	t *testing.T
	c *coretest.Client
}

// mwebOnlyWallet creates a wallet, pegs amount into an MWEB address of it
// from the main wallet and mines the peg-in.
func mwebOnlyWallet(t *testing.T, n *coretest.Node, amount int64) *mwebWallet {
	t.Helper()
	const name = "ipnd-mweb-only"
	n.Call("createwallet", nil, name)
	w := &mwebWallet{t: t, c: n.RPC.Wallet(name)}
	var addr string
	w.call("getnewaddress", &addr, "", "mweb")
	if !strings.HasPrefix(addr, "tmweb1") {
		t.Fatalf("MWEB address %s", addr)
	}
	n.SendToAddress(addr, amount)
	n.Generate(1)
	return w
}

func (w *mwebWallet) call(method string, result any, params ...any) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.c.Call(ctx, method, result, params...); err != nil {
		w.t.Fatalf("%s: %v", method, err)
	}
}

// send pays a canonical address from MWEB coins: a peg-out.
func (w *mwebWallet) send(addr string, amount int64) string {
	w.t.Helper()
	var txid string
	w.call("sendtoaddress", &txid, addr, json.Number(coretest.FormatAmount(amount)))
	return txid
}
