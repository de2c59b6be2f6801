package monero

import (
	"strings"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Test values in the forms wallet-rpc uses: 64 hex digits, 95 base58.
func txid(c byte) string { return strings.Repeat(string(c), 64) }
func addr(c byte) string { return "8" + strings.Repeat(string(c), 94) }

func TestPaymentsOnePerTxAndSubaddressMinedWins(t *testing.T) {
	w := NewWatcher(nil, nil, nil, WatcherConfig{Account: 2})
	tip := chains.Block{Height: 20}
	tr := Transfers{
		In: []Transfer{
			{TxID: txid('a'), Address: addr('x'), Amount: 5, Height: 10, SubaddrIndex: SubaddressIndex{2, 1}},
			{TxID: txid('a'), Address: addr('y'), Amount: 7, Height: 10, SubaddrIndex: SubaddressIndex{2, 3}},
			{TxID: txid('b'), Address: addr('z'), Amount: 9, Height: 11, SubaddrIndex: SubaddressIndex{0, 4}}, // other account
		},
		Pool: []Transfer{
			{TxID: txid('a'), Address: addr('x'), Amount: 5, Height: 0, SubaddrIndex: SubaddressIndex{2, 1}}, // stale pool view
			{TxID: strings.ToUpper(txid('c')), Address: addr('x'), Amount: 3, Height: 7, UnlockTime: 99, DoubleSpendSeen: true, SubaddrIndex: SubaddressIndex{2, 1}},
		},
	}
	ps, skips := w.payments(tr, tip)
	if len(ps) != 3 || len(skips) != 0 {
		t.Fatalf("%d payments, skipped %+v: %+v", len(ps), skips, ps)
	}
	want := []chains.Payment{
		{TxID: txid('a'), Address: addr('x'), Amount: 5, Height: 10},
		{TxID: txid('a'), Address: addr('y'), Amount: 7, Height: 10},
		{TxID: txid('c'), Address: addr('x'), Amount: 3, Height: 0, UnlockTime: 99, DoubleSpend: true}, // lower case, pool height ignored
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

// TestPaymentsSkipWhatCannotBeStored: each check that keeps a transfer the
// ledger write would refuse (or that is nonsense) out of the payments, with
// its reason; the good transfers pass.
func TestPaymentsSkipWhatCannotBeStored(t *testing.T) {
	w := NewWatcher(nil, nil, nil, WatcherConfig{Account: 1})
	w.book.byAddr = map[string]SubaddressIndex{addr('k'): {1, 5}}
	w.book.byIndex = map[SubaddressIndex]string{{1, 5}: addr('k')}
	tip := chains.Block{Height: 100}
	idx := SubaddressIndex{1, 9}
	tr := Transfers{
		In: []Transfer{
			{TxID: txid('1'), Address: addr('a'), Amount: 1, Height: 50, SubaddrIndex: idx},                                     // good
			{TxID: "zz" + txid('1')[2:], Address: addr('a'), Amount: 1, Height: 50, SubaddrIndex: idx},                          // txid not hex
			{TxID: txid('2')[:62], Address: addr('a'), Amount: 1, Height: 50, SubaddrIndex: idx},                                // short txid
			{TxID: txid('3'), Address: "8" + strings.Repeat("0", 94), Amount: 1, Height: 50, SubaddrIndex: idx},                 // '0' is not base58
			{TxID: txid('4'), Address: addr('a')[:90], Amount: 1, Height: 50, SubaddrIndex: idx},                                // short address
			{TxID: txid('5'), Address: addr('a'), Amount: 1 << 63, Height: 50, SubaddrIndex: idx},                               // amount
			{TxID: txid('6'), Address: addr('a'), Amount: 1, Height: 0, SubaddrIndex: idx},                                      // mined at 0
			{TxID: txid('7'), Address: addr('a'), Amount: 1, Height: 101, SubaddrIndex: idx},                                    // above the tip
			{TxID: txid('8'), Address: addr('b'), Amount: 1, Height: 50, SubaddrIndex: SubaddressIndex{1, 5}},                   // index of k
			{TxID: txid('9'), Address: addr('a'), Amount: 2, Height: 60, UnlockTime: 1<<64 - 1, SubaddrIndex: idx},              // saturated
			{TxID: txid('d'), Address: addr('k'), Amount: 3, Height: 60, UnlockTime: ledger.UnlockNever - 1, SubaddrIndex: idx}, // known address: attributed by address
		},
		Malformed: []MalformedTransfer{{Category: "in", Index: 11, TxID: txid('e'), Err: errTest}},
	}
	ps, skips := w.payments(tr, tip)
	if len(ps) != 3 || ps[0].TxID != txid('1') || ps[1].UnlockTime != ledger.UnlockNever || ps[2].UnlockTime != ledger.UnlockNever-1 {
		t.Fatalf("payments %+v", ps)
	}
	reasons := map[string]int{}
	for _, s := range skips {
		reasons[s.reason]++
	}
	want := map[string]int{SkipMalformed: 1, SkipTxID: 2, SkipAddress: 2, SkipAmount: 1, SkipHeight: 2, SkipIndexTaken: 1}
	for r, n := range want {
		if reasons[r] != n {
			t.Errorf("%s: %d skipped, want %d (all: %v)", r, reasons[r], n, reasons)
		}
	}
}

type testErr string

func (e testErr) Error() string { return string(e) }

const errTest = testErr("json: cannot unmarshal number -1 into Go struct field Transfer.amount of type uint64")
