package bitcoin

import (
	"context"
	"fmt"

	"github.com/ipnd/ipnd/chains"
)

// APIAdapter is a Bitcoin-family chain's side of the HTTP API (an api.Chain):
// allocation, validation, watching a subscriber's address and the sync
// status. Errors caused by the request wrap chains.ErrRejected.
type APIAdapter struct {
	*Allocator
	d       *Deriver
	ledger  AllocatorLedger
	watcher *Watcher // nil when another process syncs
}

// NewAPIAdapter makes the API's view of the chain; watcher is nil in a
// process without the sync role (another process follows the chain and
// picks new addresses up from the ledger).
func NewAPIAdapter(d *Deriver, ledger AllocatorLedger, watcher *Watcher) *APIAdapter {
	var derived DerivedWatcher
	if watcher != nil {
		derived = watcher
	}
	return &APIAdapter{Allocator: NewAllocator(d, ledger, derived), d: d, ledger: ledger, watcher: watcher}
}

// Validate checks an address's syntax and network.
func (a *APIAdapter) Validate(addr string) error {
	if _, err := a.d.ValidateAddress(addr); err != nil {
		return fmt.Errorf("%w: %w", chains.ErrRejected, err)
	}
	return nil
}

// Canonical checks an address's syntax and network and returns the form
// the ledger stores it in (CanonicalAddress: bech32 in lower case, base58
// as given).
func (a *APIAdapter) Canonical(addr string) (string, error) {
	canonical, err := CanonicalAddress(a.d.Params(), addr)
	if err != nil {
		return "", fmt.Errorf("%w: %w", chains.ErrRejected, err)
	}
	return canonical, nil
}

// Watch records a subscriber's address (in its canonical form, the one the
// scanner credits payments to) and watches it.
func (a *APIAdapter) Watch(ctx context.Context, addr string) (chains.Address, error) {
	canonical, err := CanonicalAddress(a.d.Params(), addr)
	if err != nil {
		return chains.Address{}, fmt.Errorf("%w: %w", chains.ErrRejected, err)
	}
	rec, err := a.ledger.EnsureAddress(ctx, chains.Address{Chain: a.d.fam.Chain, Address: canonical})
	if err != nil {
		return chains.Address{}, err
	}
	if a.watcher != nil {
		if err := a.watcher.WatchAddress(canonical); err != nil {
			return chains.Address{}, err
		}
	}
	return rec, nil
}

// Status is the watcher's, or "synced elsewhere" without one.
func (a *APIAdapter) Status() chains.Status {
	if a.watcher != nil {
		return a.watcher.Status()
	}
	return chains.SyncedElsewhere(a.d.fam.Chain)
}
