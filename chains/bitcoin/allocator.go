package bitcoin

import (
	"context"
	"fmt"

	"github.com/ipnd/ipnd/chains"
)

// Allocator hands out receive addresses and makes the watcher watch them.
type Allocator struct {
	d      *Deriver
	ledger AllocatorLedger
	watch  DerivedWatcher
	gate   *indexGate // set by PrepareIndexes
}

// AllocatorLedger is what the allocator needs of the ledger (*db.Ledger).
type AllocatorLedger interface {
	AllocateAddress(ctx context.Context, c chains.Chain, derive func(index uint32) (string, error), label string) (chains.Address, error)
	EnsureAddress(ctx context.Context, a chains.Address) (chains.Address, error)
}

// DerivedWatcher is told about allocated indexes (*Watcher; nil when the
// watcher runs in another process: it follows the ledger by itself).
type DerivedWatcher interface {
	WatchDerived(index uint32) error
}

// NewAllocator makes an allocator; watch may be nil.
func NewAllocator(d *Deriver, ledger AllocatorLedger, watch DerivedWatcher) *Allocator {
	return &Allocator{d: d, ledger: ledger, watch: watch}
}

// Allocate records and returns the next unused address (a persisted counter
// that never hands out an index twice).
func (a *Allocator) Allocate(ctx context.Context, label string) (chains.Address, error) {
	if err := a.gate.wait(ctx, a.d.fam.Section); err != nil {
		return chains.Address{}, err
	}
	addr, err := a.ledger.AllocateAddress(ctx, a.d.fam.Chain, a.d.Address, label)
	if err != nil {
		return chains.Address{}, err
	}
	return addr, a.watched(addr)
}

// AddressAt records and returns the address at a fixed index (e.g. a user
// id); asking again returns the same address.
func (a *Allocator) AddressAt(ctx context.Context, index uint32, label string) (chains.Address, error) {
	s, err := a.d.Address(index)
	if err != nil {
		return chains.Address{}, err
	}
	addr, err := a.ledger.EnsureAddress(ctx, chains.Address{Chain: a.d.fam.Chain, Address: s, DerivationIndex: &index, Label: label})
	if err != nil {
		return chains.Address{}, err
	}
	return addr, a.watched(addr)
}

func (a *Allocator) watched(addr chains.Address) error {
	if a.watch == nil || addr.DerivationIndex == nil {
		return nil
	}
	if err := a.watch.WatchDerived(*addr.DerivationIndex); err != nil {
		return fmt.Errorf("watch %s: %w", addr.Address, err)
	}
	return nil
}
