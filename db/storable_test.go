package db_test

import (
	"bytes"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ledger"
	"github.com/ipnd/ipnd/metrics"
)

// ipnd's metrics count the payments the ledger skips.
var _ db.SkipObserver = (*metrics.Registry)(nil)

// skipCounter is a db.Observer that also counts skipped payments
// (db.SkipObserver), as *metrics.Registry does.
type skipCounter struct {
	mu      sync.Mutex
	reasons []string
}

func (*skipCounter) NotificationsCreated(chains.Chain, []time.Duration) {}

func (s *skipCounter) ChainTransferSkipped(_ chains.Chain, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reasons = append(s.reasons, reason)
}

func (s *skipCounter) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reasons...)
}

// syncBuffer is a log destination the test reads while the ledger writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// skipLedgers runs fn on each backend with a skip counter and a log.
func skipLedgers(t *testing.T, fn func(t *testing.T, l *db.Ledger, skips *skipCounter, log *syncBuffer)) {
	for _, driver := range []string{"sqlite", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			skips, log := &skipCounter{}, &syncBuffer{}
			opts := db.Options{Observer: skips, Logger: slog.New(slog.NewTextHandler(log, nil))}
			fn(t, dbtest.Ledger(t, driver, opts), skips, log)
		})
	}
}

func connect(b chains.Block, ps ...chains.Payment) chains.ChainUpdate {
	return chains.ChainUpdate{Connect: []chains.BlockPayments{{Block: b, Payments: ps}}}
}

// maxStored is the largest amount and total the backend stores.
func maxStored(l *db.Ledger) uint64 {
	if l.Driver() == "sqlite" {
		return math.MaxInt64
	}
	return math.MaxUint64
}

// TestUnlockTimeBeyondInt64IsClampedOnEveryPath: a Monero transfer's
// unlock_time is any uint64 (a sender picks it); SQLite's INTEGER cannot
// hold one with the high bit set. Whatever a watcher passes, the ledger
// stores ledger.UnlockNever, on the windowed and the block path, and the
// write succeeds.
func TestUnlockTimeBeyondInt64IsClampedOnEveryPath(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: "8sub", AccountIndex: u32(0), SubaddressIndex: u32(1)}); err != nil {
			t.Fatal(err)
		}
		seen := []chains.Payment{
			{TxID: "high-bit", Address: "8sub", Amount: 7, Height: 50, UnlockTime: 1 << 63},
			{TxID: "max", Address: "8sub", Amount: 11, UnlockTime: math.MaxUint64},
			{TxID: "normal", Address: "8sub", Amount: 3, Height: 50},
		}
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(60), 40, seen); err != nil {
			t.Fatalf("ReconcileWindow: %v", err)
		}
		mustAddr(t, l, chains.BTC, "addrU", 0)
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, connect(blk(1),
			chains.Payment{TxID: "btc-high", Address: "addrU", Amount: 5, UnlockTime: math.MaxUint64})); err != nil {
			t.Fatalf("ApplyChainUpdate: %v", err)
		}
		wantBalance(t, l, chains.XMR, "8sub", 0, 3, 0)
		wantBalance(t, l, chains.BTC, "addrU", 0, 0, 0)
		for _, a := range []struct {
			c    chains.Chain
			addr string
		}{{chains.XMR, "8sub"}, {chains.BTC, "addrU"}} {
			_, ds, err := l.Balance(ctx, a.c, a.addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.TxID != "normal" && d.UnlockTime != ledger.UnlockNever {
					t.Fatalf("%s: unlock_time %d, want %d", d.TxID, d.UnlockTime, uint64(ledger.UnlockNever))
				}
			}
		}
		// The same poll again is a replay: nothing changes.
		if ch, err := l.ReconcileWindow(ctx, chains.XMR, blk(60), 40, seen); err != nil || ch != (chains.Change{}) {
			t.Fatalf("replay: %+v %v", ch, err)
		}
	})
}

// TestUnstorablePaymentsAreSkippedAndTheBlockApplied: a payment whose
// amount, or whose address's total with it, is more than the ledger
// stores is left out, logged (chain, txid, address) and counted; the rest
// of the block is applied and the chain moves on. Totals are never beyond
// what the ledger stores.
func TestUnstorablePaymentsAreSkippedAndTheBlockApplied(t *testing.T) {
	skipLedgers(t, func(t *testing.T, l *db.Ledger, skips *skipCounter, log *syncBuffer) {
		max := maxStored(l)
		mustAddr(t, l, chains.BTC, "big", 0)
		mustAddr(t, l, chains.BTC, "small", 1)
		if _, _, err := l.Subscribe(ctx, chains.BTC, "big", "http://r.example/big", 1, "json", "sekrit"); err != nil {
			t.Fatal(err)
		}
		ps := []chains.Payment{
			{TxID: "t-almost", Address: "big", Amount: max - 5},
			{TxID: "t-overflow", OutIndex: 1, Address: "big", Amount: 10},
			{TxID: "t-small", Address: "small", Amount: 3},
		}
		if l.Driver() == "sqlite" {
			ps = append(ps, chains.Payment{TxID: "t-huge", Address: "small", Amount: math.MaxInt64 + 1})
		}
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, connect(blk(1), ps...)); err != nil {
			t.Fatalf("block with unstorable payments: %v", err)
		}
		if tip, _, err := l.Tip(ctx, chains.BTC); err != nil || tip != blk(1) {
			t.Fatalf("tip %+v %v: the block was not applied", tip, err)
		}
		wantBalance(t, l, chains.BTC, "big", 0, max-5, 0)
		wantBalance(t, l, chains.BTC, "small", 0, 3, 0)
		want := []string{"total_unstorable"}
		if l.Driver() == "sqlite" {
			want = append(want, "amount_unstorable")
		}
		if got := skips.got(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("skips counted %v, want %v", got, want)
		}
		out := log.String()
		for _, s := range []string{"payment skipped", "chain=btc", "txid=t-overflow", "address=big", "reason=total_unstorable"} {
			if !strings.Contains(out, s) {
				t.Fatalf("log lacks %q:\n%s", s, out)
			}
		}
		if strings.Contains(out, "sekrit") {
			t.Fatalf("log shows the subscription secret:\n%s", out)
		}
		// The mempool path too; and a payment that fits exactly is taken.
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{Mempool: []chains.Payment{
			{TxID: "m-overflow", Address: "big", Amount: 6}, {TxID: "m-fits", Address: "big", Amount: 5}}}); err != nil {
			t.Fatalf("mempool: %v", err)
		}
		wantBalance(t, l, chains.BTC, "big", 0, max, 0)
		// Replaying the block skips again without logging again.
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, connect(blk(2), ps[1])); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(log.String(), "txid=t-overflow"); n != 1 {
			t.Fatalf("skipped payment logged %d times", n)
		}
	})
}

// TestUnstorablePaymentInAWindowKeepsTheRest: Monero's windowed reconcile
// with an unstorable transfer records the others, moves the tip, and does
// not orphan what the transfer's deposit already was.
func TestUnstorablePaymentInAWindowKeepsTheRest(t *testing.T) {
	skipLedgers(t, func(t *testing.T, l *db.Ledger, skips *skipCounter, _ *syncBuffer) {
		max := maxStored(l)
		for i, a := range []string{"8a", "8b"} {
			if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: a, AccountIndex: u32(0), SubaddressIndex: u32(uint32(i + 1))}); err != nil {
				t.Fatal(err)
			}
		}
		first := []chains.Payment{{TxID: "x1", Address: "8a", Amount: max - 1, Height: 50}}
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(50), 40, first); err != nil {
			t.Fatal(err)
		}
		seen := append(first,
			chains.Payment{TxID: "x2", Address: "8a", Amount: 2, Height: 51},
			chains.Payment{TxID: "x3", Address: "8b", Amount: 4, Height: 51},
			chains.Payment{TxID: "x4", Address: "8-not-ours", Amount: 4, Height: 51})
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(51), 40, seen); err != nil {
			t.Fatalf("ReconcileWindow: %v", err)
		}
		wantBalance(t, l, chains.XMR, "8a", 0, max-1, 0)
		wantBalance(t, l, chains.XMR, "8b", 0, 4, 0)
		if tip, _, _ := l.Tip(ctx, chains.XMR); tip != blk(51) {
			t.Fatalf("tip %+v", tip)
		}
		if got := skips.got(); strings.Join(got, ",") != "total_unstorable,address_unresolved" {
			t.Fatalf("skips %v", got)
		}
	})
}

// TestUpperCaseBech32FindsTheSameRow: an all-upper-case bech32 address
// (BIP173, QR codes) is the lower-case one on every ledger path: recording
// it, looking it up, subscribing, the balance and a payment
// the watcher reports in either form. A payment to an address the ledger
// does not have is skipped and logged; the rest of the block is applied.
func TestUpperCaseBech32FindsTheSameRow(t *testing.T) {
	const lower = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4" // BIP173's example
	upper := strings.ToUpper(lower)
	skipLedgers(t, func(t *testing.T, l *db.Ledger, skips *skipCounter, log *syncBuffer) {
		a, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: upper})
		if err != nil {
			t.Fatal(err)
		}
		if a.Address != lower {
			t.Fatalf("recorded as %q, want %q", a.Address, lower)
		}
		b := mustAddr(t, l, chains.BTC, lower, 7) // same row, indexes filled in
		if b.ID != a.ID {
			t.Fatalf("lower case made another row: %d vs %d", b.ID, a.ID)
		}
		if got, err := l.AddressByString(ctx, chains.BTC, upper); err != nil || got.ID != a.ID {
			t.Fatalf("AddressByString(upper) = %+v, %v", got, err)
		}
		sub, _, err := l.Subscribe(ctx, chains.BTC, upper, "http://r.example/u", 0, "json", "k")
		if err != nil || sub.AddressID != a.ID {
			t.Fatalf("Subscribe(upper) = %+v, %v", sub, err)
		}
		base58 := "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn" // case-sensitive: kept as given
		mustAddr(t, l, chains.BTC, base58, 8)
		if _, err := l.AddressByString(ctx, chains.BTC, strings.ToUpper(base58)); err == nil {
			t.Fatal("a base58 address in another case was found")
		}
		if _, err := l.ApplyChainUpdate(ctx, chains.BTC, connect(blk(1),
			chains.Payment{TxID: "t1", Address: upper, Amount: 5},
			chains.Payment{TxID: "t2", Address: lower, Amount: 7},
			chains.Payment{TxID: "t3", Address: "bc1-not-in-the-ledger", Amount: 9},
			chains.Payment{TxID: "t4", Address: base58, Amount: 1})); err != nil {
			t.Fatalf("block: %v", err)
		}
		wantBalance(t, l, chains.BTC, upper, 0, 12, 0)
		wantBalance(t, l, chains.BTC, lower, 0, 12, 0)
		wantBalance(t, l, chains.BTC, base58, 0, 1, 0)
		if got := skips.got(); strings.Join(got, ",") != "address_unresolved" {
			t.Fatalf("skips %v", got)
		}
		if !strings.Contains(log.String(), "txid=t3") {
			t.Fatalf("unresolved payment not logged:\n%s", log.String())
		}
	})
}

// TestLegacyTotalsBeyondTheLedgerDoNotStallTheChain: a ledger written
// before unstorable payments were skipped may hold deposits whose total
// is beyond what it stores. A chain write touching that address is
// applied; its subscription is left out (logged), the others notified.
func TestLegacyTotalsBeyondTheLedgerDoNotStallTheChain(t *testing.T) {
	skipLedgers(t, func(t *testing.T, l *db.Ledger, _ *skipCounter, log *syncBuffer) {
		half := maxStored(l)/2 + 1
		legacy := mustAddr(t, l, chains.BTC, "legacy", 0)
		mustAddr(t, l, chains.BTC, "other", 1)
		if err := l.SetStart(ctx, chains.BTC, blk(0)); err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"legacy", "other"} {
			if _, _, err := l.Subscribe(ctx, chains.BTC, a, "http://r.example/"+a, 2, "json", "k"); err != nil {
				t.Fatal(err)
			}
		}
		for _, txid := range []string{"old1", "old2"} {
			if _, err := l.DB().Exec(`INSERT INTO deposits (chain, txid, out_index, address_id, amount, height, block_hash, status, first_seen, updated_at)
  VALUES ('btc', ?, 0, ?, ?, 1, ?, 'confirmed', 0, 0)`, txid, legacy.ID, half, blk(1).Hash); err != nil {
				t.Fatal(err)
			}
		}
		// The tip reaches 2: the legacy deposits reach max_confirms.
		ch, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{Connect: []chains.BlockPayments{{Block: blk(1)},
			{Block: blk(2), Payments: []chains.Payment{{TxID: "n2", Address: "other", Amount: 4}, {TxID: "n3", Address: "legacy", Amount: 1}}}}})
		if err != nil {
			t.Fatalf("chain write: %v", err)
		}
		if ch.Notifications != 1 {
			t.Fatalf("%d notifications, want the other subscription's", ch.Notifications)
		}
		if !strings.Contains(log.String(), "beyond what the ledger stores") || !strings.Contains(log.String(), "txid=n3") {
			t.Fatalf("not logged:\n%s", log.String())
		}
	})
}
