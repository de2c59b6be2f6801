package monero

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ipnd/ipnd/chains"
)

// APIAdapter is the Monero side of the HTTP API (an api.Chain). Errors
// caused by the request wrap chains.ErrRejected.
type APIAdapter struct {
	alloc   *Allocator // nil in a process with neither the api nor the sync role
	watcher *Watcher   // nil when another process syncs
	ledger  AllocatorLedger
}

// NewAPIAdapter makes the API's view of the chain; alloc and watcher may be
// nil (see APIAdapter).
func NewAPIAdapter(alloc *Allocator, watcher *Watcher, ledger AllocatorLedger) *APIAdapter {
	return &APIAdapter{alloc: alloc, watcher: watcher, ledger: ledger}
}

// Allocate creates and records a new subaddress (Allocator.Allocate).
func (a *APIAdapter) Allocate(ctx context.Context, label string) (chains.Address, error) {
	return a.alloc.Allocate(ctx, label)
}

// AddressAt is refused: the wallet allocates subaddresses in order.
func (a *APIAdapter) AddressAt(context.Context, uint32, string) (chains.Address, error) {
	return chains.Address{}, fmt.Errorf("%w: Monero subaddresses are allocated by the wallet; omit index", chains.ErrRejected)
}

// Validate checks the form of a Monero address (ValidateAddressForm).
func (a *APIAdapter) Validate(addr string) error { return ValidateAddressForm(addr) }

// Canonical checks the form of a Monero address and returns it as given:
// base58 is case-sensitive, so the given form is the only one.
func (a *APIAdapter) Canonical(addr string) (string, error) {
	if err := a.Validate(addr); err != nil {
		return "", err
	}
	return addr, nil
}

// ValidateAddressForm checks the form of a Monero address: base58, 95
// characters (standard or subaddress) or 106 (integrated).
func ValidateAddressForm(addr string) error {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	if len(addr) != 95 && len(addr) != 106 {
		return fmt.Errorf("%w: a Monero address has 95 or 106 characters", chains.ErrRejected)
	}
	for _, r := range addr {
		if !strings.ContainsRune(alphabet, r) {
			return fmt.Errorf("%w: %q is not a base58 character", chains.ErrRejected, r)
		}
	}
	return nil
}

// Watch records a subscriber's address when it is a subaddress of the
// watched account (the wallet says so); the watcher sees its transfers
// through the wallet anyway.
func (a *APIAdapter) Watch(ctx context.Context, addr string) (chains.Address, error) {
	if err := a.Validate(addr); err != nil {
		return chains.Address{}, err
	}
	if rec, err := a.ledger.AddressByString(ctx, chains.XMR, addr); err == nil {
		return rec, nil
	}
	idx, err := a.alloc.Validate(ctx, addr)
	if err != nil {
		if errors.Is(err, ErrUnreachable) {
			return chains.Address{}, err
		}
		return chains.Address{}, fmt.Errorf("%w: %v", chains.ErrRejected, err)
	}
	major, minor := idx.Major, idx.Minor
	return a.ledger.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: addr, AccountIndex: &major, SubaddressIndex: &minor})
}

// Status is the watcher's, or "synced elsewhere" without one.
func (a *APIAdapter) Status() chains.Status {
	if a.watcher != nil {
		return a.watcher.Status()
	}
	return chains.SyncedElsewhere(chains.XMR)
}
