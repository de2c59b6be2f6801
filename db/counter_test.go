package db_test

import (
	"fmt"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

// RaiseAddressCounter moves a chain's allocation counter up only, and
// AllocateAddress starts there; other chains keep their own counters.
func TestRaiseAddressCounter(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		derive := func(c chains.Chain) func(uint32) (string, error) {
			return func(i uint32) (string, error) { return fmt.Sprintf("%s-addr-%d", c, i), nil }
		}
		if n, err := l.RaiseAddressCounter(ctx, chains.BTC, 5); err != nil || n != 5 {
			t.Fatalf("raise to 5: %d, %v", n, err)
		}
		a, err := l.AllocateAddress(ctx, chains.BTC, derive(chains.BTC), "")
		if err != nil || a.DerivationIndex == nil || *a.DerivationIndex != 5 {
			t.Fatalf("first allocation after raising to 5: %+v, %v", a, err)
		}
		if n, err := l.RaiseAddressCounter(ctx, chains.BTC, 3); err != nil || n != 6 {
			t.Fatalf("raise to 3 below the counter 6: %d, %v", n, err)
		}
		if a, err = l.AllocateAddress(ctx, chains.BTC, derive(chains.BTC), ""); err != nil || *a.DerivationIndex != 6 {
			t.Fatalf("next allocation: %+v, %v", a, err)
		}
		if a, err = l.AllocateAddress(ctx, chains.LTC, derive(chains.LTC), ""); err != nil || *a.DerivationIndex != 0 {
			t.Fatalf("ltc keeps its own counter: %+v, %v", a, err)
		}
		if _, err := l.RaiseAddressCounter(ctx, chains.BTC, ledger.MaxDerivationIndex+2); err == nil {
			t.Error("a counter beyond the last index was accepted")
		}
	})
}
