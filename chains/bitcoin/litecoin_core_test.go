package bitcoin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"

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
		if u := e.w.undecodableTxs(); u != 0 {
			t.Fatalf("%d mempool transactions did not decode", u)
		}
		checkDecodedTx(t, n, peg)
		checkDecodedTx(t, n, txC)

		// A peg-out: a wallet holding only MWEB coins pays an ipnd address;
		// the canonical output is the HogEx's, in the next block.
		p := e.allocate()
		pegout := mweb.send(p, 125_000_000)
		n.WaitMempool(pegout, true)
		e.poll()
		if tot := e.totals(p); tot.Confirmed != 0 || tot.Unconfirmed != 0 {
			t.Fatalf("a peg-out has no canonical output before it is mined: %+v", tot)
		}
		if u := e.w.undecodableTxs(); u != 0 {
			t.Fatalf("%d mempool transactions did not decode (the MWEB-only peg-out?)", u)
		}
		checkDecodedTx(t, n, pegout)
		hs := n.Generate(1)
		e.poll()
		e.wantDeposit(c, txC, ledger.StatusConfirmed, 3_000_000, 1)
		hogex := lastTx(t, n, hs[0])
		e.wantDeposit(p, hogex, ledger.StatusConfirmed, 125_000_000, 1)

		n.Generate(3)
		e.poll()
		e.wantTip()
		for h := act.Height - 2; h <= n.Height(); h++ {
			checkDecodedBlock(t, n, n.BlockHash(h))
		}
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
		waitNoConns(t, n.RPCHost) // Core's shutdown would wait for one
		n.Restart()
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
		// An idle connection of ipnd would hold the node's shutdown (Core
		// waits for open connections): none is left after a round.
		waitNoConns(t, n.RPCHost)
		start := time.Now()
		if out, err := n.CLI("stop"); err != nil {
			t.Fatalf("litecoin-cli stop: %v (%s)", err, out)
		}
		n.Stop() // waits for the process to exit
		t.Logf("litecoin-cli stop to exit: %v", time.Since(start).Round(time.Millisecond))
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

// verboseTx is a transaction as litecoind describes it (getblock 2,
// getrawtransaction true): its MWEB inputs and outputs are listed too,
// marked ismweb.
type verboseTx struct {
	TxID string `json:"txid"`
	Vin  []struct {
		MWEB bool   `json:"ismweb"`
		TxID string `json:"txid"`
		Vout uint32 `json:"vout"`
	} `json:"vin"`
	Vout []struct {
		MWEB         bool        `json:"ismweb"`
		Value        json.Number `json:"value"`
		ScriptPubKey struct {
			Hex string `json:"hex"`
		} `json:"scriptPubKey"`
	} `json:"vout"`
}

// canonical drops the MWEB inputs and outputs of v.
func (v verboseTx) canonical() verboseTx {
	out := v
	out.Vin, out.Vout = v.Vin[:0:0], v.Vout[:0:0]
	for _, in := range v.Vin {
		if !in.MWEB {
			out.Vin = append(out.Vin, in)
		}
	}
	for _, o := range v.Vout {
		if !o.MWEB {
			out.Vout = append(out.Vout, o)
		}
	}
	return out
}

// sameAsNode compares a decoded canonical transaction with the node's
// description: id, each input's outpoint, each output's value and script.
func sameAsNode(t *testing.T, id string, tx *wire.MsgTx, v verboseTx) {
	t.Helper()
	v = v.canonical()
	if id != v.TxID || len(tx.TxOut) != len(v.Vout) {
		t.Fatalf("tx %s: %d outputs; node: %s, %d outputs", id, len(tx.TxOut), v.TxID, len(v.Vout))
	}
	for i, out := range v.Vout {
		value, err := coretest.ParseAmount(out.Value.String())
		if err != nil || value != tx.TxOut[i].Value || hex.EncodeToString(tx.TxOut[i].PkScript) != out.ScriptPubKey.Hex {
			t.Fatalf("tx %s output %d: %d %x; node %s %s", id, i, tx.TxOut[i].Value, tx.TxOut[i].PkScript, out.Value, out.ScriptPubKey.Hex)
		}
	}
	var ins []string
	for _, in := range v.Vin {
		if in.TxID != "" {
			ins = append(ins, fmt.Sprintf("%s:%d", in.TxID, in.Vout))
		}
	}
	var got []string
	for _, in := range tx.TxIn {
		if in.PreviousOutPoint.Index != wire.MaxPrevOutIndex {
			got = append(got, in.PreviousOutPoint.String())
		}
	}
	if strings.Join(got, " ") != strings.Join(ins, " ") {
		t.Fatalf("tx %s inputs %v; node %v", id, got, ins)
	}
}

// checkDecodedBlock: LitecoinDecoder reads the block as the node describes
// it (hash, parent, every canonical transaction).
func checkDecodedBlock(t *testing.T, n *coretest.Node, hash string) {
	t.Helper()
	blk, err := LitecoinDecoder{}.DecodeBlock(n.RawBlock(hash))
	if err != nil {
		t.Fatalf("block %s: %v", hash, err)
	}
	var v struct {
		Hash string      `json:"hash"`
		Prev string      `json:"previousblockhash"`
		Tx   []verboseTx `json:"tx"`
	}
	n.Call("getblock", &v, hash, 2)
	if blk.Hash.String() != v.Hash || blk.Prev.String() != v.Prev || len(blk.Txs) != len(v.Tx) {
		t.Fatalf("block %s: %s after %s, %d txs; node %s after %s, %d txs", hash, blk.Hash, blk.Prev, len(blk.Txs), v.Hash, v.Prev, len(v.Tx))
	}
	for i, tx := range blk.Txs {
		sameAsNode(t, blk.ID(i).String(), tx, v.Tx[i])
	}
}

// checkDecodedTx: LitecoinDecoder reads a mempool transaction as the node
// describes it; an MWEB-only one (no canonical inputs or outputs) is
// ErrNoCanonicalPart.
func checkDecodedTx(t *testing.T, n *coretest.Node, txid string) {
	t.Helper()
	var v verboseTx
	n.Call("getrawtransaction", &v, txid, true)
	tx, err := LitecoinDecoder{}.DecodeTx(n.RawTransaction(txid, ""))
	if c := v.canonical(); len(c.Vin) == 0 && len(c.Vout) == 0 {
		if !errors.Is(err, ErrNoCanonicalPart) {
			t.Fatalf("MWEB-only tx %s: %v, want ErrNoCanonicalPart", txid, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("tx %s: %v", txid, err)
	}
	sameAsNode(t, tx.ID.String(), tx.Msg, v)
}
