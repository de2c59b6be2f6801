package bitcoin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/chains"
)

// errNode answers RawBlock from blocks, or with err for any other hash.
type errNode struct {
	Node
	blocks map[string][]byte
	err    error
}

func (n errNode) RawBlock(_ context.Context, hash string) ([]byte, error) {
	if raw, ok := n.blocks[hash]; ok {
		return raw, nil
	}
	return nil, n.err
}

// loadConfirmed watches the coins of the listed payments' transactions at
// their heights, reading each block once; a block the node does not have
// or that does not decode is skipped, a failing node is an error.
func TestLoadConfirmed(t *testing.T) {
	pay := spending(coin(0))
	pay.AddTxOut(wire.NewTxOut(5000, []byte{0x51}))
	other := spending(coin(1))
	other.AddTxOut(wire.NewTxOut(6000, []byte{0x51}))
	b := wire.NewMsgBlock(wire.NewBlockHeader(1, &chainhash.Hash{}, &chainhash.Hash{}, 0, 7))
	cb := spending(wire.OutPoint{Index: ^uint32(0)})
	cb.TxIn[0].SignatureScript = []byte{7, 1}
	cb.AddTxOut(wire.NewTxOut(1, []byte{0x51}))
	for _, tx := range []*wire.MsgTx{cb, pay, other} {
		b.AddTransaction(tx)
	}
	var buf bytes.Buffer
	if err := b.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	hash := b.BlockHash().String()
	missing, garbage := hashOf("missing").String(), hashOf("garbage").String()
	node := errNode{blocks: map[string][]byte{hash: buf.Bytes(), garbage: {1, 2, 3}},
		err: &RPCError{Code: codeNotFound, Message: "Block not found"}}
	src := &rpcSource{node: node, fam: &BitcoinFamily, spends: newSpendWatch(), reorgDepth: 6}
	ps := []chains.Payment{
		{TxID: pay.TxHash().String(), OutIndex: 0, Height: 50, BlockHash: hash},
		{TxID: pay.TxHash().String(), OutIndex: 1, Height: 50, BlockHash: hash}, // a second output: one transaction
		{TxID: hashOf("gone").String(), Height: 51, BlockHash: missing},
		{TxID: hashOf("bad").String(), Height: 52, BlockHash: garbage},
		{TxID: "not a txid", Height: 52, BlockHash: hash},
	}
	n, err := src.loadConfirmed(context.Background(), ps, slog.New(slog.DiscardHandler))
	if err != nil || n != 1 {
		t.Fatalf("loadConfirmed: %d, %v; want 1 transaction", n, err)
	}
	if !src.spends.has(pay.TxHash()) || src.spends.has(other.TxHash()) {
		t.Fatalf("watched: pay %v, other %v; want pay only", src.spends.has(pay.TxHash()), src.spends.has(other.TxHash()))
	}
	// pay is confirmed at 50: a block spending its coin is a double spend.
	steal := spending(coin(0))
	fs := src.spends.check(steal, steal.TxHash, true, nil)
	if len(fs) != 1 || fs[0].Ours != pay.TxHash() || fs[0].Verdict != verdictDoubleSpent {
		t.Fatalf("a block spending pay's coin: %+v", fs)
	}
	if src.spends.txs[pay.TxHash()].height != 50 {
		t.Errorf("height %d, want 50", src.spends.txs[pay.TxHash()].height)
	}
	src.spends.expire(50)
	if !src.spends.empty() {
		t.Error("still watched after its height expired")
	}

	down := errors.New("connection refused")
	src.node = errNode{err: down}
	if _, err := src.loadConfirmed(context.Background(), ps, slog.New(slog.DiscardHandler)); !errors.Is(err, down) {
		t.Fatalf("a failing node: %v, want %v", err, down)
	}
}
