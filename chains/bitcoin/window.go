package bitcoin

import (
	"context"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// The watch set and its gap window: every ledger address of the chain is
// watched, and GapLimit derivation indexes beyond the highest one allocated
// or paid, so a payment to an address handed out by another process (or
// before a restart) is not missed.

// Refresh loads every ledger address into the watch set and derives the
// gap window beyond the highest index. The set only grows.
func (w *Watcher) Refresh(ctx context.Context) error {
	lastID, err := w.ledger.LastAddressID(ctx)
	if err != nil {
		return err
	}
	addrs, err := w.ledger.Addresses(ctx, w.fam.Chain)
	if err != nil {
		return err
	}
	maxIdx := int64(-1)
	for _, a := range addrs {
		maxIdx = max(maxIdx, w.watchLedgerAddress(a))
	}
	w.lastRefresh, w.lastAddrID, w.lastIndexCheck = time.Now(), lastID, time.Now()
	return w.extendWindow(maxIdx)
}

// watchLedgerAddress adds a ledger address to the watch set and returns
// its derivation index, or -1.
func (w *Watcher) watchLedgerAddress(a chains.Address) int64 {
	script, err := ValidateAddress(w.d.net, a.Address)
	if err != nil {
		w.log.Warn("ledger address is not watchable on this network", "address", a.Address, "err", err)
		return -1
	}
	e, idx := WatchEntry{}, int64(-1)
	if a.DerivationIndex != nil {
		e, idx = WatchEntry{Index: *a.DerivationIndex, Derived: true}, int64(*a.DerivationIndex)
	}
	if err := w.set.Add(script, e); err != nil {
		w.log.Warn("ledger address not watched", "address", a.Address, "err", err)
	}
	return idx
}

// refreshWindow follows allocations made by other processes: addresses
// recorded since the last look are watched and grow the gap window; a
// jump past the derived window reloads every address. A round where the
// ledger has no new address costs one query: the highest derivation index
// (which also moves when an address recorded without one gets it) is read
// again only every indexCheckEvery, or when new addresses came.
func (w *Watcher) refreshWindow(ctx context.Context) error {
	// Addresses recorded since the last look (by the API of this or another
	// process) are watched from this poll on, before its blocks are scanned.
	news, err := w.ledger.AddressesAfter(ctx, w.lastAddrID)
	if err != nil {
		return err
	}
	m := int64(-1)
	for _, a := range news {
		w.lastAddrID = max(w.lastAddrID, a.ID)
		if a.Chain == w.fam.Chain {
			m = max(m, w.watchLedgerAddress(a))
		}
	}
	if len(news) > 0 || time.Since(w.lastIndexCheck) >= indexCheckEvery {
		h, err := w.ledger.HighestDerivationIndex(ctx, w.fam.Chain)
		if err != nil {
			return err
		}
		m, w.lastIndexCheck = max(m, h), time.Now()
	}
	w.winMu.Lock()
	jump := m > w.derivedTo
	w.winMu.Unlock()
	if jump || time.Since(w.lastRefresh) > w.cfg.RefreshInterval {
		return w.Refresh(ctx)
	}
	return w.extendWindow(m)
}

// indexCheckEvery: how often a round without new ledger addresses reads
// the highest derivation index anyway.
const indexCheckEvery = 30 * time.Second

// extendWindow records idx as used and derives the indexes up to
// idx+GapLimit into the watch set (never the hole below a far index).
func (w *Watcher) extendWindow(idx int64) error {
	w.winMu.Lock()
	defer w.winMu.Unlock()
	if idx > w.maxIdx {
		w.maxIdx = idx
	}
	target := min(w.maxIdx+int64(w.cfg.GapLimit), int64(derivedBit-1))
	from := max(w.derivedTo+1, w.maxIdx+1)
	for i := from; i <= target; i++ {
		a, err := w.d.Derive(uint32(i))
		if err != nil {
			w.log.Warn("skipping underivable index", "index", i, "err", err)
			continue
		}
		if err := w.set.Add(a.Script, WatchEntry{Index: uint32(i), Derived: true}); err != nil {
			return err
		}
	}
	if target > w.derivedTo {
		w.derivedTo = target
	}
	return nil
}

// WatchDerived watches the address at derivation index (just allocated)
// and the gap window beyond it.
func (w *Watcher) WatchDerived(index uint32) error {
	a, err := w.d.Derive(index)
	if err != nil {
		return err
	}
	if err := w.set.Add(a.Script, WatchEntry{Index: index, Derived: true}); err != nil {
		return err
	}
	return w.extendWindow(int64(index))
}

// WatchAddress validates an arbitrary address for the configured network
// and watches it. The caller records it in the ledger (EnsureAddress with
// the canonical string, see CanonicalAddress) before payments can be
// credited to it.
func (w *Watcher) WatchAddress(addr string) error {
	script, err := ValidateAddress(w.d.net, addr)
	if err != nil {
		return err
	}
	return w.set.Add(script, WatchEntry{})
}

// watchedScripts is the size of the watch set.
func (w *Watcher) watchedScripts() int { return w.set.Len() }
