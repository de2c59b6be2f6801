package api

import (
	"encoding/json"

	"github.com/ipnd/ipnd/chains"
)

// shortAmount renders atomic units as the shortest exact decimal
// (chains.Chain.ShortAmount).
func shortAmount(c chains.Chain, atomic uint64) string { return c.ShortAmount(atomic) }

// jsonAmount is an amount as a JSON number literal, written exactly from
// the integer (the original service's /btc answer).
func jsonAmount(c chains.Chain, atomic uint64) json.RawMessage {
	return json.RawMessage(shortAmount(c, atomic))
}

// PaymentURI builds the payment URI of addr from its chain's spec, with the
// amount when it is not zero: bitcoin:ADDR?amount=0.01 or
// monero:ADDR?tx_amount=1.5 (chains.Chain.PaymentURI without a label).
func PaymentURI(c chains.Chain, addr string, atomic uint64) string {
	return c.PaymentURI(addr, atomic, "")
}
