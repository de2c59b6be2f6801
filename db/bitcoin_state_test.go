package db_test

import (
	"fmt"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
)

// AddressCounter tells whether a chain's counter exists (the index check
// or an allocation made it) and its value.
func TestAddressCounter(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		if n, ok, err := l.AddressCounter(ctx, chains.BTC); err != nil || ok || n != 0 {
			t.Fatalf("new ledger: %d, %v, %v; want no counter", n, ok, err)
		}
		if _, err := l.RaiseAddressCounter(ctx, chains.BTC, 0); err != nil {
			t.Fatal(err)
		}
		if n, ok, err := l.AddressCounter(ctx, chains.BTC); err != nil || !ok || n != 0 {
			t.Fatalf("after raising to 0: %d, %v, %v; want 0, true", n, ok, err)
		}
		if _, ok, err := l.AddressCounter(ctx, chains.LTC); err != nil || ok {
			t.Fatalf("ltc: %v, %v; want no counter", ok, err)
		}
		derive := func(i uint32) (string, error) { return fmt.Sprintf("ltc-addr-%d", i), nil }
		if _, err := l.AllocateAddress(ctx, chains.LTC, derive, ""); err != nil {
			t.Fatal(err)
		}
		if n, ok, err := l.AddressCounter(ctx, chains.LTC); err != nil || !ok || n != 1 {
			t.Fatalf("ltc after an allocation: %d, %v, %v; want 1, true", n, ok, err)
		}
	})
}

// ConfirmedPaymentsSince lists a chain's confirmed deposits from a height
// on, with their blocks; unconfirmed, orphaned, older and other chains'
// deposits are left out.
func TestConfirmedPaymentsSince(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		a := mustAddr(t, l, chains.BTC, "bcrt1qstate0", 0)
		b := mustAddr(t, l, chains.BTC, "bcrt1qstate1", 1)
		o := mustAddr(t, l, chains.LTC, "rltc1qstate0", 0)
		pay := func(txid string, vout uint32, addr string) chains.Payment {
			return chains.Payment{TxID: txid, OutIndex: vout, Address: addr, Amount: 1000}
		}
		mineTo(t, l, chains.BTC, 9)
		steps := []struct {
			h  int64
			ps []chains.Payment
		}{
			{10, []chains.Payment{pay("t10", 0, a.Address)}},
			{11, []chains.Payment{pay("t11", 1, a.Address), pay("t11", 3, b.Address)}},
			{12, []chains.Payment{pay("t12", 0, b.Address)}},
		}
		for _, s := range steps {
			if _, err := applyBlock(l, chains.BTC, blk(s.h), s.ps); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := applyMempool(l, chains.BTC, []chains.Payment{pay("pool", 0, a.Address)}, nil); err != nil {
			t.Fatal(err)
		}
		mineTo(t, l, chains.LTC, 10)
		if _, err := applyBlock(l, chains.LTC, blk(11), []chains.Payment{pay("ltc11", 0, o.Address)}); err != nil {
			t.Fatal(err)
		}
		// Block 12 leaves the chain: t12 is orphaned (not in the mempool).
		if _, err := revertBlock(l, chains.BTC, blk(12), blk(11), nil); err != nil {
			t.Fatal(err)
		}
		got, err := l.ConfirmedPaymentsSince(ctx, chains.BTC, 11)
		if err != nil {
			t.Fatal(err)
		}
		want := []chains.Payment{
			{TxID: "t11", OutIndex: 1, Height: 11, BlockHash: blk(11).Hash},
			{TxID: "t11", OutIndex: 3, Height: 11, BlockHash: blk(11).Hash},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("from 11: %+v, want %+v", got, want)
		}
		if got, err := l.ConfirmedPaymentsSince(ctx, chains.BTC, 0); err != nil || len(got) != 3 || got[0].TxID != "t10" {
			t.Errorf("from 0: %+v, %v; want t10 and t11's two outputs", got, err)
		}
	})
}
