package chains

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Chain names a supported blockchain. Its string form is what the ledger
// stores and what IPN bodies and API answers carry.
type Chain string

const (
	BTC Chain = "btc"
	LTC Chain = "ltc"
	XMR Chain = "xmr"
)

// Decimals is the number of decimal places of one coin in atomic units
// (its Spec's): 8 for Bitcoin (satoshi) and Litecoin (litoshi), 12 for
// Monero (piconero); 0 for an unknown chain.
func (c Chain) Decimals() int {
	s, _ := c.Spec()
	return s.Decimals
}

// Valid reports whether c is a supported chain.
func (c Chain) Valid() bool { _, ok := c.Spec(); return ok }

// FormatAmount renders atomic units as a decimal coin string with exactly
// Decimals() fractional digits, e.g. 1000000 sat -> "0.01000000".
func (c Chain) FormatAmount(atomic uint64) string {
	d := c.Decimals()
	s := strconv.FormatUint(atomic, 10)
	if d == 0 {
		return s
	}
	if len(s) <= d {
		s = strings.Repeat("0", d-len(s)+1) + s
	}
	return s[:len(s)-d] + "." + s[len(s)-d:]
}

// ErrAmount is wrapped by every ParseAmount failure.
var ErrAmount = errors.New("invalid amount")

// ParseAmount converts a non-negative decimal coin string ("0.01", "1",
// "0.010000") to atomic units. More fractional digits than the chain has,
// signs, exponents and values above uint64 are refused.
func (c Chain) ParseAmount(s string) (uint64, error) {
	d := c.Decimals()
	if d == 0 {
		return 0, fmt.Errorf("%w: unknown chain %q", ErrAmount, c)
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("%w: %q is empty", ErrAmount, s)
	}
	if !allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("%w: %q is not a plain decimal number", ErrAmount, s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > d {
		return 0, fmt.Errorf("%w: %q has more than %d decimal places", ErrAmount, s, d)
	}
	digits := strings.TrimLeft(intPart+frac+strings.Repeat("0", d-len(frac)), "0")
	if digits == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is too large", ErrAmount, s)
	}
	return v, nil
}

// DecimalEqual reports whether two decimal strings denote the same number
// ("0.0100" == "0.01" == "1e-2"). It uses exact rational arithmetic, never
// floating point, and reports false if either side is not a number.
func DecimalEqual(a, b string) bool {
	if strings.Contains(a, "/") || strings.Contains(b, "/") {
		return false // big.Rat would read "1/100" as a fraction
	}
	x, ok1 := new(big.Rat).SetString(strings.TrimSpace(a))
	y, ok2 := new(big.Rat).SetString(strings.TrimSpace(b))
	return ok1 && ok2 && x.Cmp(y) == 0
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AddAmounts returns a+b, or an error if the sum does not fit in uint64.
func AddAmounts(a, b uint64) (uint64, error) {
	s := a + b
	if s < a {
		return 0, fmt.Errorf("amount overflow: %d + %d exceeds uint64", a, b)
	}
	return s, nil
}

// SyncState is the health of a chain watcher as the readiness check sees it.
type SyncState string

const (
	Synced      SyncState = "synced"
	Behind      SyncState = "behind"
	Unreachable SyncState = "unreachable"
	Starting    SyncState = "starting"
)

// Status is a watcher's report for /readyz and metrics.
type Status struct {
	Chain      Chain     `json:"chain"`
	State      SyncState `json:"state"`
	Height     int64     `json:"height"`      // last height processed into the ledger
	NodeHeight int64     `json:"node_height"` // the node's best height as last seen
	Behind     int64     `json:"behind"`      // NodeHeight - Height when known
	Error      string    `json:"error,omitempty"`
	// LastPoll is when the watcher last finished a poll round, successful
	// or not: the watchdog's sign that its loop is not stuck.
	LastPoll time.Time `json:"last_poll,omitzero"`
	// Feed is how the watcher hears of new blocks and transactions: a push
	// source while it works ("websocket", "zmq"), else "polling"; empty for
	// a chain without push.
	Feed string `json:"feed,omitempty"`
}
