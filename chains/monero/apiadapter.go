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
	start   *Starter // its Allocator once the start checks passed
	watcher *Watcher // nil when another process syncs
	ledger  AllocatorLedger
}

// NewAPIAdapter makes the API's view of the chain; watcher is nil when
// another process syncs, start is nil in a process with neither the api
// nor the sync role.
func NewAPIAdapter(start *Starter, watcher *Watcher, ledger AllocatorLedger) *APIAdapter {
	return &APIAdapter{start: start, watcher: watcher, ledger: ledger}
}

// allocator is the checked allocator, or ErrNotReady (answered 503).
func (a *APIAdapter) allocator() (*Allocator, error) {
	if a.start == nil {
		return nil, fmt.Errorf("%w: this process runs neither the api nor the sync role", ErrNotReady)
	}
	if al := a.start.Allocator(); al != nil {
		return al, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotReady, a.start.Status().Error)
}

// Allocate creates and records a new subaddress (Allocator.Allocate).
func (a *APIAdapter) Allocate(ctx context.Context, label string) (chains.Address, error) {
	al, err := a.allocator()
	if err != nil {
		return chains.Address{}, err
	}
	return al.Allocate(ctx, label)
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
	al, err := a.allocator()
	if err != nil {
		return chains.Address{}, err
	}
	idx, err := al.Validate(ctx, addr)
	if err != nil {
		if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrWrongPath) {
			return chains.Address{}, err
		}
		return chains.Address{}, fmt.Errorf("%w: %w", chains.ErrRejected, err)
	}
	major, minor := idx.Major, idx.Minor
	return a.ledger.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: addr, AccountIndex: &major, SubaddressIndex: &minor})
}

// Status is the watcher's; without one, the start checks' until they
// passed, then "synced elsewhere".
func (a *APIAdapter) Status() chains.Status {
	if a.watcher != nil {
		return a.watcher.Status()
	}
	if a.start != nil && a.start.Allocator() == nil {
		return a.start.Status()
	}
	return chains.SyncedElsewhere(chains.XMR)
}
