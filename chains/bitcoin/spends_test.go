package bitcoin

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// What a spend of a watched coin means, for every combination: the pure
// decision the spend watch applies.
func TestJudgeSpend(t *testing.T) {
	ours, other := hashOf("ours"), hashOf("other")
	for _, c := range []struct {
		spender            chainhash.Hash
		confirmed, inBlock bool
		want               verdict
	}{
		{ours, false, true, verdictMined},
		{ours, true, true, verdictMined}, // the same transaction in a new branch too
		{ours, false, false, verdictNone},
		{ours, true, false, verdictNone},
		{other, false, false, verdictReplaced},
		{other, false, true, verdictDoubleSpent},
		// Ours confirmed: a block spending its coin is a new branch's
		// double spend; a mempool transaction spending it changes nothing.
		{other, true, true, verdictDoubleSpent},
		{other, true, false, verdictNone},
	} {
		if got := judgeSpend(ours, c.spender, c.confirmed, c.inBlock); got != c.want {
			t.Errorf("spender ours=%v confirmed=%v inBlock=%v: %v, want %v", c.spender == ours, c.confirmed, c.inBlock, got, c.want)
		}
	}
}

func coin(n uint32) wire.OutPoint { return wire.OutPoint{Hash: hashOf("funding"), Index: n} }

func spending(ops ...wire.OutPoint) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	for _, op := range ops {
		tx.AddTxIn(wire.NewTxIn(&op, nil, nil))
	}
	return tx
}

// The spend watch's state: a conflicting spend is reported once per
// watched transaction, the id of an unrelated transaction is never
// computed, a mined transaction stays watched (confirmed) until its height
// expires, keep forgets only unconfirmed ones, and a block connected at or
// below a confirmed one's height makes it unconfirmed again.
func TestSpendWatch(t *testing.T) {
	s := newSpendWatch()
	ours := spending(coin(0), coin(1))
	oursID := ours.TxHash()
	if !s.empty() {
		t.Fatal("new watch not empty")
	}
	s.add(oursID, ours, 0)
	thief := spending(coin(1), coin(0), coin(7))
	got := s.check(thief, func() chainhash.Hash { return thief.TxHash() }, false, nil)
	if fmt.Sprint(got) != fmt.Sprint([]finding{{oursID, verdictReplaced}}) {
		t.Fatalf("mempool conflict: %v", got)
	}
	if got := s.check(thief, func() chainhash.Hash { return thief.TxHash() }, true, nil); fmt.Sprint(got) != fmt.Sprint([]finding{{oursID, verdictDoubleSpent}}) {
		t.Fatalf("block conflict: %v", got)
	}
	asked := false
	if got := s.check(spending(coin(5)), func() chainhash.Hash { asked = true; return chainhash.Hash{} }, true, nil); len(got) != 0 || asked {
		t.Fatalf("unrelated spend: %v, id asked %v", got, asked)
	}
	fs := s.check(ours, func() chainhash.Hash { return oursID }, true, nil)
	if r, d := s.apply(fs, 100); len(r)+len(d) != 0 || s.txs[oursID].height != 100 {
		t.Fatalf("mined: %v %v %+v", r, d, s.txs[oursID])
	}
	// Confirmed: a mempool spend of its coin means nothing, a block's is a
	// double spend (a new branch); keep leaves it.
	if got := s.check(thief, func() chainhash.Hash { return thief.TxHash() }, false, nil); len(got) != 0 {
		t.Fatalf("mempool spend of a confirmed coin: %v", got)
	}
	s.keep(nil)
	if !s.has(oursID) {
		t.Fatal("keep forgot a confirmed transaction")
	}
	_, d := s.apply(s.check(thief, func() chainhash.Hash { return thief.TxHash() }, true, nil), 101)
	if len(d) != 1 || d[0] != oursID || !s.has(oursID) {
		t.Fatalf("double spent after confirmation: %v (still watched %v)", d, s.has(oursID))
	}
	// A block at or below its height: unconfirmed again, and keep then
	// forgets it once the ledger no longer lists it.
	s.unconfirmFrom(101)
	if s.txs[oursID].height != 100 {
		t.Fatal("a block above it unconfirmed it")
	}
	s.unconfirmFrom(100)
	if s.txs[oursID].height != 0 {
		t.Fatal("still confirmed after its block was replaced")
	}
	s.keep(map[chainhash.Hash]bool{oursID: true})
	if !s.has(oursID) {
		t.Fatal("kept transaction forgotten")
	}
	s.keep(nil)
	if !s.empty() || s.has(oursID) {
		t.Fatal("keep(nil) left unconfirmed coins watched")
	}
	// expire forgets confirmed transactions at or below the height.
	s.add(oursID, ours, 50)
	s.expire(49)
	if !s.has(oursID) {
		t.Fatal("expired above its height")
	}
	s.expire(50)
	if !s.empty() {
		t.Fatal("not expired at its height")
	}
}

// blockNode serves raw blocks by hash; other calls are not expected.
type blockNode struct {
	Node
	blocks map[string][]byte
}

func (n blockNode) RawBlock(_ context.Context, hash string) ([]byte, error) {
	return n.blocks[hash], nil
}

// The block source across a reorganisation: a payment confirmed in block
// A1 whose coin a transaction of the competing block B1 spends is reported
// double spent when B1 is scanned (so its reorg records double_spend, not
// reorg); the same payment in both branches is not; and the coins of a
// payment mined ReorgDepth blocks ago are no longer watched.
func TestSourceDoubleSpentAcrossReorg(t *testing.T) {
	script := append([]byte{0x00, 0x14}, make([]byte, 20)...)
	ws := NewWatchSet(0)
	if err := ws.Add(script, WatchEntry{}); err != nil {
		t.Fatal(err)
	}
	net := &chaincfg.RegressionNetParams
	src := &rpcSource{fam: &BitcoinFamily, net: net, spends: newSpendWatch(), reorgDepth: 3,
		scan: func(txs []*wire.MsgTx, id func(int) chainhash.Hash) ([]Match, error) {
			ms, _ := ws.ScanTxs(nil, nil, txs, id, ScanParams{Net: net, MaxMoney: BitcoinFamily.MaxMoney})
			return ms, nil
		}}
	nodeBlocks := map[string][]byte{}
	src.node = blockNode{blocks: nodeBlocks}
	mk := func(parent chainhash.Hash, nonce uint32, txs ...*wire.MsgTx) chainhash.Hash {
		b := wire.NewMsgBlock(wire.NewBlockHeader(1, &parent, &chainhash.Hash{}, 0, nonce))
		cb := spending(wire.OutPoint{Index: ^uint32(0)})
		cb.TxIn[0].SignatureScript = []byte{byte(nonce), 1}
		cb.AddTxOut(wire.NewTxOut(1, []byte{0x51}))
		b.AddTransaction(cb)
		for _, tx := range txs {
			b.AddTransaction(tx)
		}
		var buf bytes.Buffer
		if err := b.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		raw := buf.Bytes()
		h := b.BlockHash()
		nodeBlocks[h.String()] = raw
		return h
	}
	pay := spending(coin(0))
	pay.AddTxOut(wire.NewTxOut(5000, script))
	keep := spending(coin(1))
	keep.AddTxOut(wire.NewTxOut(6000, script))
	steal := spending(coin(0))
	steal.AddTxOut(wire.NewTxOut(5000, []byte{0x51}))
	anc := hashOf("ancestor")
	scan := func(h int64, hash, parent chainhash.Hash) []string {
		t.Helper()
		s, err := src.ScanBlock(context.Background(), h, hash.String(), parent.String())
		if err != nil {
			t.Fatal(err)
		}
		return s.Conflicts
	}
	a1 := mk(anc, 1, pay, keep)
	if c := scan(11, a1, anc); len(c) != 0 {
		t.Fatalf("A1: conflicts %v", c)
	}
	// The reorganisation: B1 replaces A1, holding keep again and steal.
	b1 := mk(anc, 2, keep, steal)
	if c := scan(11, b1, anc); fmt.Sprint(c) != fmt.Sprint([]string{pay.TxHash().String()}) {
		t.Fatalf("B1: conflicts %v, want the confirmed payment %s", c, pay.TxHash())
	}
	// keep is confirmed in B1; three blocks later its coins are let go.
	parent := b1
	for h := int64(12); h <= 14; h++ {
		prev := parent
		parent = mk(prev, uint32(h))
		scan(h, parent, prev)
	}
	if src.spends.has(keep.TxHash()) {
		t.Fatal("coins of a payment 3 blocks deep still watched")
	}
}

// A coinbase paying us spends no coin: the next blocks' coinbases (whose
// null input is the same) are no double spend of it.
func TestSpendWatchCoinbase(t *testing.T) {
	coinbase := func(tag byte) *wire.MsgTx {
		tx := wire.NewMsgTx(1)
		tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, wire.MaxPrevOutIndex), []byte{tag}, nil))
		tx.AddTxOut(wire.NewTxOut(50, []byte{0x51}))
		return tx
	}
	s := newSpendWatch()
	ours := coinbase(1)
	s.add(ours.TxHash(), ours, 10)
	next := coinbase(2)
	if got := s.check(next, func() chainhash.Hash { return next.TxHash() }, true, nil); len(got) != 0 {
		t.Fatalf("a later coinbase conflicts with ours: %v", got)
	}
}
