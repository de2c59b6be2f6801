package db_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

func statuses(t *testing.T, l *db.Ledger, addr string) map[string]string {
	t.Helper()
	_, ds, err := l.Balance(ctx, chains.BTC, addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range ds {
		out[d.TxID] = fmt.Sprintf("%s@%d", d.Status, d.Height)
	}
	return out
}

// A reorganisation applied as one update: a payment in both branches stays
// confirmed without a single notification about it, a payment the node has
// in its mempool again is unconfirmed, one double spent by the new branch
// and one that vanished are orphaned.
func TestChainUpdateReorgIsAtomic(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		mustAddr(t, l, chains.BTC, "addrA", 0)
		mustAddr(t, l, chains.BTC, "addrB", 1)
		if err := l.SetStart(ctx, chains.BTC, blk(10)); err != nil {
			t.Fatal(err)
		}
		subA, _, err := l.Subscribe(ctx, chains.BTC, "addrA", "http://r.example/a", 1, "json", "k")
		if err != nil {
			t.Fatal(err)
		}
		subB, _, err := l.Subscribe(ctx, chains.BTC, "addrB", "http://r.example/b", 1, "json", "k")
		if err != nil {
			t.Fatal(err)
		}
		both := chains.Payment{TxID: "both", Address: "addrA", Amount: 500}
		back := chains.Payment{TxID: "back", Address: "addrB", Amount: 7}
		spent := chains.Payment{TxID: "spent", Address: "addrB", Amount: 8}
		gone := chains.Payment{TxID: "gone", Address: "addrB", Amount: 9}
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{Connect: []chains.BlockPayments{
			{Block: blk(11), Payments: []chains.Payment{both, back}}, {Block: blk(12), Payments: []chains.Payment{spent, gone}},
		}}); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, l, chains.BTC, "addrA", 1, 500, 0)
		wantBalance(t, l, chains.BTC, "addrB", 1, 24, 0)
		beforeA := len(notes(t, l, subA.ID))

		ch, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{
			Disconnect: []chains.Block{blk(12), blk(11)}, Ancestor: blk(10),
			InMempool: func(txid string) bool { return txid == "back" },
			Connect: []chains.BlockPayments{{Block: fork(11)}, {Block: fork(12), Payments: []chains.Payment{both}},
				{Block: fork(13)}},
			Gone: []chains.Gone{{TxID: "spent", Reason: chains.ReasonDoubleSpend}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if tip, _, _ := l.Tip(ctx, chains.BTC); tip != fork(13) {
			t.Fatalf("tip %+v, want fork 13", tip)
		}
		want := map[string]string{"both": "confirmed@12"}
		if got := statuses(t, l, "addrA"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("addrA deposits %v, want %v", got, want)
		}
		want = map[string]string{"back": "mempool@0", "spent": "orphaned@0", "gone": "orphaned@0"}
		if got := statuses(t, l, "addrB"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("addrB deposits %v, want %v", got, want)
		}
		if n := len(notes(t, l, subA.ID)); n != beforeA {
			t.Fatalf("the payment in both branches made %d notifications", n-beforeA)
		}
		if got := pairs(notes(t, l, subB.ID)); fmt.Sprint(got[len(got)-1]) != fmt.Sprint(pair{0, 7}) {
			t.Fatalf("addrB notified %v, want (0, 7) last", got)
		}
		if ch.Notifications != 1 || ch.DepositsRemoved != 2 {
			t.Fatalf("change %+v: want one notification and two deposits orphaned", ch)
		}
		blocks, err := l.RecentBlocks(ctx, chains.BTC, 4)
		if err != nil || fmt.Sprint(blocks) != fmt.Sprint([]chains.Block{fork(13), fork(12), fork(11), blk(10)}) {
			t.Fatalf("RecentBlocks %v, %v", blocks, err)
		}
	})
}

// An update that fails half way writes nothing; mempool payments and
// dropped transactions go in the same update as a block; SkipTo moves the
// tip forward only.
func TestChainUpdateChecksAndMempool(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		mustAddr(t, l, chains.BTC, "addrA", 0)
		if err := l.SetStart(ctx, chains.BTC, blk(10)); err != nil {
			t.Fatal(err)
		}
		pay := chains.Payment{TxID: "p", Address: "addrA", Amount: 5}
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{Connect: []chains.BlockPayments{
			{Block: blk(11), Payments: []chains.Payment{pay}}, {Block: blk(13)},
		}}); !errors.Is(err, ledger.ErrNotContiguous) {
			t.Fatalf("a gap between connects: %v", err)
		}
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{Disconnect: []chains.Block{blk(9)}, Ancestor: blk(8)}); err == nil {
			t.Fatal("disconnecting a block that is not the tip must fail")
		}
		if tip, _, _ := l.Tip(ctx, chains.BTC); tip != blk(10) || len(statuses(t, l, "addrA")) != 0 {
			t.Fatalf("a failed update wrote: tip %+v, deposits %v", tip, statuses(t, l, "addrA"))
		}
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{Mempool: []chains.Payment{
			pay, {TxID: "r", Address: "addrA", Amount: 6}, {TxID: "d", Address: "addrA", Amount: 7},
		}}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{
			Connect: []chains.BlockPayments{{Block: blk(11), Payments: []chains.Payment{pay}}},
			Gone:    []chains.Gone{{TxID: "r", Reason: chains.ReasonReplaced}, {TxID: "p", Reason: chains.ReasonDropped}},
			Mempool: []chains.Payment{{TxID: "n", Address: "addrA", Amount: 8}},
		}); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"p": "confirmed@11", "r": "orphaned@0", "d": "mempool@0", "n": "mempool@0"}
		if got := statuses(t, l, "addrA"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("deposits %v, want %v (a confirmed deposit is never dropped as gone)", got, want)
		}
		if _, err := l.SkipTo(ctx, chains.BTC, blk(20)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.SkipTo(ctx, chains.BTC, blk(15)); err != nil {
			t.Fatal(err)
		}
		if tip, _, _ := l.Tip(ctx, chains.BTC); tip != blk(20) {
			t.Fatalf("tip after SkipTo %+v, want 20", tip)
		}
		wantBalance(t, l, chains.BTC, "addrA", 1, 5, 15)
	})
}
