package monero

import (
	"testing"

	"github.com/ipnd/ipnd/chains"
)

func TestPaymentsOnePerTxAndSubaddressMinedWins(t *testing.T) {
	w := NewWatcher(nil, nil, nil, WatcherConfig{Account: 2})
	tr := Transfers{
		In: []Transfer{
			{TxID: "a", Address: "8x", Amount: 5, Height: 10, SubaddrIndex: SubaddressIndex{2, 1}},
			{TxID: "a", Address: "8y", Amount: 7, Height: 10, SubaddrIndex: SubaddressIndex{2, 3}},
			{TxID: "b", Address: "8z", Amount: 9, Height: 11, SubaddrIndex: SubaddressIndex{0, 4}}, // other account
		},
		Pool: []Transfer{
			{TxID: "a", Address: "8x", Amount: 5, Height: 0, SubaddrIndex: SubaddressIndex{2, 1}}, // stale pool view
			{TxID: "c", Address: "8x", Amount: 3, Height: 0, UnlockTime: 99, DoubleSpendSeen: true, SubaddrIndex: SubaddressIndex{2, 1}},
		},
	}
	ps := w.payments(tr)
	if len(ps) != 3 {
		t.Fatalf("%d payments: %+v", len(ps), ps)
	}
	want := []chains.Payment{
		{TxID: "a", Address: "8x", Amount: 5, Height: 10},
		{TxID: "a", Address: "8y", Amount: 7, Height: 10},
		{TxID: "c", Address: "8x", Amount: 3, Height: 0, UnlockTime: 99, DoubleSpend: true},
	}
	for i, p := range ps {
		wp := want[i]
		if p.TxID != wp.TxID || p.Address != wp.Address || p.Amount != wp.Amount || p.Height != wp.Height ||
			p.UnlockTime != wp.UnlockTime || p.DoubleSpend != wp.DoubleSpend {
			t.Fatalf("payment %d = %+v, want %+v", i, p, wp)
		}
		if p.Watch == nil || *p.Watch.AccountIndex != 2 {
			t.Fatalf("payment %d watch %+v", i, p.Watch)
		}
	}
	if *ps[1].Watch.SubaddressIndex != 3 {
		t.Fatalf("subaddress index %d", *ps[1].Watch.SubaddressIndex)
	}
}
