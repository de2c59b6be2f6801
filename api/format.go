package api

import (
	"encoding/json"
	"strings"

	"github.com/ipnd/ipnd/chains"
)

// shortAmount renders atomic units as the shortest exact decimal: no
// trailing fractional zeros and no trailing dot ("0.01", "1", "0").
func shortAmount(c chains.Chain, atomic uint64) string {
	s := c.FormatAmount(atomic)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	return s
}

// jsonAmount is an amount as a JSON number literal, written exactly from
// the integer (the original service's /btc answer).
func jsonAmount(c chains.Chain, atomic uint64) json.RawMessage {
	return json.RawMessage(shortAmount(c, atomic))
}

// PaymentURI builds the payment URI of addr from its chain's spec, with the
// amount when it is not zero: bitcoin:ADDR?amount=0.01 or
// monero:ADDR?tx_amount=1.5.
func PaymentURI(c chains.Chain, addr string, atomic uint64) string {
	spec, ok := c.Spec()
	if !ok {
		return ""
	}
	s := spec.URIScheme + ":" + addr
	if atomic > 0 {
		s += "?" + spec.URIAmountKey + "=" + shortAmount(c, atomic)
	}
	return s
}
