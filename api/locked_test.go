package api

import (
	"context"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// TestBalanceListsLockedMoneroDeposits: a Monero deposit locked for ever
// (unlock_time stored as ledger.UnlockNever) is listed with its unlock_time
// and locked, counting as none; a height-locked one is locked and
// unconfirmed until its height passes.
func TestBalanceListsLockedMoneroDeposits(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a, err := h.xmr.Allocate(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	never := pay("never", a.Address, 7)
	never.UnlockTime = ledger.UnlockNever
	soon := pay("soon", a.Address, 5)
	soon.UnlockTime = 4
	h.mine(chains.XMR, never, soon, pay("plain", a.Address, 3)) // height 1
	m := wantOK(t, h.get("/balance?max_confirms=1&address="+a.Address))
	if m["confirmed_atomic"] != "3" || m["unconfirmed_atomic"] != "5" {
		t.Fatalf("totals: %v", m)
	}
	byID := map[string]map[string]any{}
	for _, tx := range m["transactions"].([]any) {
		tx := tx.(map[string]any)
		byID[tx["txid"].(string)] = tx
	}
	if tx := byID["never"]; tx["unlock_time"] != "9223372036854775807" || tx["locked"] != true || tx["counts_as"] != "none" || tx["status"] != "confirmed" {
		t.Errorf("locked for ever: %v", tx)
	}
	if tx := byID["soon"]; tx["unlock_time"] != "4" || tx["locked"] != true || tx["counts_as"] != "unconfirmed" {
		t.Errorf("height-locked: %v", tx)
	}
	if tx := byID["plain"]; tx["unlock_time"] != nil || tx["locked"] != nil || tx["counts_as"] != "confirmed" {
		t.Errorf("no lock: %v", tx)
	}
	h.mine(chains.XMR)
	h.mine(chains.XMR) // tip 3: tip+1 reaches unlock_time 4
	m = wantOK(t, h.get("/balance?max_confirms=1&address="+a.Address))
	if m["confirmed_atomic"] != "8" || m["unconfirmed_atomic"] != "0" {
		t.Fatalf("after the height lock passed: %v", m)
	}
}

// TestBalanceOneClock: /balance's totals and each deposit's counts_as and
// locked are computed with one clock reading. The API's clock (Options.Now)
// is two hours ahead of the ledger's; a deposit time-locked for one hour
// is unlocked by it: the totals used to come from the ledger's clock
// (unconfirmed) while the row said confirmed.
func TestBalanceOneClock(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a, err := h.xmr.Allocate(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	timed := pay("timed", a.Address, 5)
	timed.UnlockTime = uint64(time.Now().Add(time.Hour).Unix())
	h.mine(chains.XMR, timed)
	h.s.o.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	m := wantOK(t, h.get("/balance?max_confirms=1&address="+a.Address))
	tx := m["transactions"].([]any)[0].(map[string]any)
	if m["confirmed_atomic"] != "5" || m["unconfirmed_atomic"] != "0" || tx["counts_as"] != "confirmed" || tx["locked"] != nil {
		t.Fatalf("totals %v/%v, row counts_as %v locked %v: want one clock's view (confirmed 5, unlocked)",
			m["confirmed_atomic"], m["unconfirmed_atomic"], tx["counts_as"], tx["locked"])
	}
}
