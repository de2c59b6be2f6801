package bitcoin

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// seedBlock is a small block in wire format: a coinbase, a legacy and a
// segwit transaction.
func seedBlock(t testing.TB) []byte {
	blk := wire.NewMsgBlock(wire.NewBlockHeader(1, &chainhash.Hash{1}, &chainhash.Hash{2}, 0x207fffff, 7))
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, 0xffffffff), []byte{1, 2, 3}, nil))
	cb.AddTxOut(wire.NewTxOut(5000000000, []byte{0x51}))
	legacy := wire.NewMsgTx(2)
	legacy.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{3}, 1), []byte{0x47, 0x30}, nil))
	legacy.AddTxOut(wire.NewTxOut(1234, append([]byte{0x00, 0x14}, make([]byte, 20)...)))
	legacy.AddTxOut(wire.NewTxOut(99, []byte{0x6a}))
	segwit := wire.NewMsgTx(2)
	segwit.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{4}, 0), nil, wire.TxWitness{{0x30, 0x44}, {0x02, 0x03}}))
	segwit.AddTxOut(wire.NewTxOut(777, append([]byte{0x51, 0x20}, make([]byte, 32)...)))
	segwit.LockTime = 100
	for _, tx := range []*wire.MsgTx{cb, legacy, segwit} {
		if err := blk.AddTransaction(tx); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := blk.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Whatever bytes a node sends as a block, the block source's decoder
// never panics, and it accepts exactly what btcd's wire accepts (but a
// block without transactions), with the same block hash and transaction
// ids.
func FuzzDecodeBitcoinBlock(f *testing.F) {
	seed := seedBlock(f)
	f.Add(seed)
	f.Add(seed[:len(seed)-1])
	f.Add(seed[:blockHeaderLen+1])
	f.Fuzz(func(t *testing.T, raw []byte) {
		var w wire.MsgBlock
		r := bytes.NewReader(raw)
		werr := w.Deserialize(r)
		if werr == nil && r.Len() != 0 {
			werr = errShort
		}
		got, err := decodeBitcoinBlock(raw)
		// A block without transactions (no coinbase) is refused even
		// though btcd's wire reads it.
		if (err == nil) != (werr == nil) && !(werr == nil && len(w.Transactions) == 0) {
			t.Fatalf("decoder error %v, btcd's %v", err, werr)
		}
		if err != nil {
			return
		}
		if got.Hash != w.BlockHash() || len(got.Txs) != len(w.Transactions) {
			t.Fatalf("block %s with %d transactions, btcd %s with %d", got.Hash, len(got.Txs), w.BlockHash(), len(w.Transactions))
		}
		for i, tx := range w.Transactions {
			if got.ID(i) != tx.TxHash() {
				t.Fatalf("transaction %d: id %s, btcd %s", i, got.ID(i), tx.TxHash())
			}
		}
	})
}
