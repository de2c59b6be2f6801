package bitcoin

import (
	"context"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// addrLedger is a ledger of addresses that counts its queries; other
// calls are not expected.
type addrLedger struct {
	Ledger
	addrs                 []chains.Address
	highest, after, lists int
}

func (l *addrLedger) LastAddressID(context.Context) (int64, error) {
	return int64(len(l.addrs)), nil
}

func (l *addrLedger) Addresses(_ context.Context, c chains.Chain) ([]chains.Address, error) {
	l.lists++
	return l.addrs, nil
}

func (l *addrLedger) HighestDerivationIndex(_ context.Context, c chains.Chain) (int64, error) {
	l.highest++
	h := int64(-1)
	for _, a := range l.addrs {
		if a.DerivationIndex != nil {
			h = max(h, int64(*a.DerivationIndex))
		}
	}
	return h, nil
}

func (l *addrLedger) AddressesAfter(_ context.Context, id int64) ([]chains.Address, error) {
	l.after++
	return l.addrs[min(id, int64(len(l.addrs))):], nil
}

func (l *addrLedger) record(t *testing.T, d *Deriver, index uint32) {
	t.Helper()
	a, err := d.Derive(index)
	if err != nil {
		t.Fatal(err)
	}
	l.addrs = append(l.addrs, chains.Address{ID: int64(len(l.addrs) + 1), Chain: chains.BTC, Address: a.Address, DerivationIndex: &index})
}

// The gap window's per-round look at the ledger: with nothing new it is
// one query (new addresses since the last one seen), not a re-read of the
// highest index every round; an address another process recorded is
// watched, with its window, in the round that sees it.
func TestRefreshWindowCachesUnchanged(t *testing.T) {
	d, err := NewDeriver("mainnet", bip44XPub, "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	l := &addrLedger{}
	l.record(t, d, 3)
	w := NewWatcher(nil, l, d, WatcherConfig{GapLimit: 5})
	ctx := context.Background()
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if w.watchedScripts() != 6 { // 3, and 4..8
		t.Fatalf("%d scripts watched, want 6", w.watchedScripts())
	}
	l.highest, l.after, l.lists = 0, 0, 0
	for range 100 {
		if err := w.refreshWindow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if l.after != 100 || l.highest != 0 || l.lists != 0 {
		t.Fatalf("100 rounds with nothing new: %d AddressesAfter, %d HighestDerivationIndex, %d Addresses; want 100, 0, 0",
			l.after, l.highest, l.lists)
	}
	l.record(t, d, 7) // allocated by another process
	if err := w.refreshWindow(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := d.Derive(12)
	if _, ok := w.set.Lookup(a.Script); !ok || l.highest != 1 {
		t.Fatalf("index 12 (7's window) watched %v, highest index read %d times", ok, l.highest)
	}
	// The index is read again after indexCheckEvery (an address recorded
	// earlier may have got an index).
	w.lastIndexCheck = time.Now().Add(-indexCheckEvery)
	if err := w.refreshWindow(ctx); err != nil {
		t.Fatal(err)
	}
	if l.highest != 2 {
		t.Fatalf("highest index read %d times, want 2", l.highest)
	}
}
