package btcdtest

import (
	"testing"

	"github.com/btcsuite/btcd/btcutil"
)

func TestHarness(t *testing.T) {
	w := NewWallet(t)
	a := Start(t, Options{Wallet: w})
	a.Fund()
	if h := a.Height(); h != 101 {
		t.Fatalf("height %d after Fund", h)
	}
	other := NewWallet(t)
	tx := a.Pay(Output{Address: other.Address.EncodeAddress(), Amount: 12345})
	a.WaitMempool(TxID(tx), true)
	a.Generate(1)
	a.WaitMempool(TxID(tx), false)
	blk, err := a.RPC.GetBlock(ptr(a.BestHash()))
	if err != nil {
		t.Fatal(err)
	}
	if len(blk.Transactions) != 2 || blk.Transactions[1].TxHash() != tx.TxHash() {
		t.Fatalf("payment not mined: %d txs", len(blk.Transactions))
	}

	// A replacement (higher fee, RBF) evicts the first spend.
	first, second := a.Conflicting([]Output{{Address: other.Address.EncodeAddress(), Amount: 1000}},
		[]Output{{Address: w.Address.EncodeAddress(), Amount: 1000}})
	if err := a.Send(first); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(second); err != nil {
		t.Logf("replacement refused: %v", err)
	} else {
		a.WaitMempool(TxID(first), false)
	}

	// invalidateblock returns a block's transactions to the mempool.
	tx2 := a.Pay(Output{Address: other.Address.EncodeAddress(), Amount: 777})
	hs := a.Generate(1)
	a.InvalidateBlock(*hs[0])
	a.WaitMempool(TxID(tx2), true)

	// Two nodes: split, mine on both, reconnect: the shorter side reorgs.
	b := Start(t, Options{Wallet: w})
	b.Connect(a)
	b.Disconnect(a)
	a.Generate(1)
	b.Generate(3)
	a.Reconnect(b)
	if a.BestHash() != b.BestHash() {
		t.Fatal("not synced")
	}
	var _ btcutil.Address = w.Address
}

func ptr[T any](v T) *T { return &v }
