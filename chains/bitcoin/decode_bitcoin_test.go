package bitcoin

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/btcsuite/btcd/wire"
)

// The block source's decoder reads real mainnet blocks exactly as btcd
// does: hash, parent, every transaction's id (hashed from the raw bytes),
// version, inputs, outputs and lock time.
func TestDecodeBitcoinBlockMatchesBtcd(t *testing.T) {
	for _, f := range blockFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want wire.MsgBlock
		if err := want.Deserialize(bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
		got, err := BitcoinDecoder{}.DecodeBlock(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash != want.BlockHash() || got.Prev != want.Header.PrevBlock || len(got.Txs) != len(want.Transactions) {
			t.Fatalf("%s: block %s prev %s, %d transactions", f, got.Hash, got.Prev, len(got.Txs))
		}
		segwit := 0
		for i, w := range want.Transactions {
			g := got.Txs[i]
			if w.HasWitness() {
				segwit++
			}
			if got.ID(i) != w.TxHash() || g.TxHash() != w.TxHash() {
				t.Fatalf("tx %d: id %s / %s, want %s", i, got.ID(i), g.TxHash(), w.TxHash())
			}
			if g.Version != w.Version || g.LockTime != w.LockTime || len(g.TxIn) != len(w.TxIn) || len(g.TxOut) != len(w.TxOut) {
				t.Fatalf("tx %d: %+v, want %+v", i, g, w)
			}
			for j, in := range w.TxIn {
				gi := g.TxIn[j]
				if gi.PreviousOutPoint != in.PreviousOutPoint || !bytes.Equal(gi.SignatureScript, in.SignatureScript) || gi.Sequence != in.Sequence {
					t.Fatalf("tx %d input %d: %+v, want %+v", i, j, gi, in)
				}
			}
			for j, out := range w.TxOut {
				if g.TxOut[j].Value != out.Value || !bytes.Equal(g.TxOut[j].PkScript, out.PkScript) {
					t.Fatalf("tx %d output %d: %+v, want %+v", i, j, g.TxOut[j], out)
				}
			}
		}
		if segwit == 0 {
			t.Errorf("%s: no segwit transaction: the witness path is not tested", f)
		}
	}
}

// Damaged blocks (cut short, bytes changed) are refused or read as btcd
// reads them; never a panic, never accepted where btcd refuses.
func TestDecodeBitcoinBlockDamaged(t *testing.T) {
	files := blockFiles(t)
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(b []byte) {
		t.Helper()
		var w wire.MsgBlock
		r := bytes.NewReader(b)
		werr := w.Deserialize(r)
		if werr == nil && r.Len() != 0 {
			werr = errShort
		}
		got, err := decodeBitcoinBlock(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decoder error %v, btcd's %v", err, werr)
		}
		if err == nil && (got.Hash != w.BlockHash() || len(got.Txs) != len(w.Transactions) || got.ID(len(got.Txs)-1) != w.Transactions[len(got.Txs)-1].TxHash()) {
			t.Fatal("decoded differently from btcd")
		}
	}
	for range 300 {
		check(raw[:rng.IntN(len(raw))])
	}
	for range 300 {
		b := bytes.Clone(raw)
		for range 1 + rng.IntN(3) {
			b[blockHeaderLen+rng.IntN(len(b)-blockHeaderLen)] = byte(rng.Uint32())
		}
		check(b)
	}
	// Non-canonical sizes, an unknown witness flag.
	tx := []byte{1, 0, 0, 0, 0, 2, 1}
	if _, err := (&blockDecoder{c: cursor{b: tx}}).tx(new(wire.MsgTx)); err == nil {
		t.Error("flag 2 accepted")
	}
	for _, b := range [][]byte{{0xfd, 0x10, 0}, {0xfe, 0xff, 0xff, 0, 0}, {0xff, 1, 0, 0, 0, 0, 0, 0, 0}} {
		c := cursor{b: b}
		if _, err := c.varInt(); err == nil {
			t.Errorf("non-canonical %x accepted", b)
		}
	}
}
