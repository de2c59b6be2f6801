package coretest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Decimals is the number of decimal places of a coin amount in Core's RPC
// (8 for Bitcoin and Litecoin: 1 LTC = 100,000,000 litoshi).
const Decimals = 8

const coin = 100_000_000

// FormatAmount writes atomic units (satoshi, litoshi) as the exact decimal
// coin amount Core's RPC takes, e.g. 123456789 -> "1.23456789".
func FormatAmount(atomic int64) string {
	sign := ""
	u := uint64(atomic)
	if atomic < 0 {
		sign, u = "-", uint64(-atomic)
	}
	return fmt.Sprintf("%s%d.%08d", sign, u/coin, u%coin)
}

// ParseAmount reads a decimal coin amount as Core's RPC writes it
// ("1.23456789", "0.001", "50", "1e-08") into atomic units, exactly. More
// than 8 decimals or an amount past int64 is an error.
func ParseAmount(s string) (int64, error) {
	orig := s
	if strings.ContainsAny(s, "eE") {
		// Core writes plain decimals, but JSON allows exponents: go through
		// json.Number's float only to find the digits, then check exactness.
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("amount %q: %w", orig, err)
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > Decimals || strings.TrimLeft(whole+frac, "0123456789") != "" {
		return 0, fmt.Errorf("amount %q: not a decimal with at most %d places", orig, Decimals)
	}
	frac += strings.Repeat("0", Decimals-len(frac))
	w, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || w > (1<<63-1)/coin {
		return 0, fmt.Errorf("amount %q: out of range", orig)
	}
	f, _ := strconv.ParseUint(frac, 10, 64)
	if w*coin+f > math.MaxInt64 {
		return 0, fmt.Errorf("amount %q: out of range", orig)
	}
	v := int64(w*coin + f)
	if neg {
		v = -v
	}
	return v, nil
}

// amountParam is an amount for an RPC parameter: a JSON number literal
// written exactly (Core parses it as a decimal, never through a float).
func amountParam(atomic int64) json.Number { return json.Number(FormatAmount(atomic)) }
