package chains

import (
	"fmt"
	"strings"
)

// Spec describes one supported chain: everything shared code needs to know
// about it. What only an adapter knows (address validation, allocation)
// comes through the adapter itself (api.Chain).
type Spec struct {
	Chain Chain
	// Name is the chain's name for people ("Bitcoin"); ParseChain accepts
	// it in any case as well as the id.
	Name string
	// Decimals is the number of decimal places of one coin in atomic units.
	Decimals int
	// URIScheme and URIAmountKey make the payment URI
	// scheme:ADDRESS?key=amount (BIP21's bitcoin:…?amount=, Monero's
	// monero:…?tx_amount=).
	URIScheme, URIAmountKey string
	// URILabelKey carries a description for the payer in the payment URI
	// (BIP21's label=, Monero's tx_description=).
	URILabelKey string
	// DerivationIndexes: receive addresses come from an extended public key
	// at BIP32 derivation indexes, so a caller may ask for a fixed index (a
	// user id) and look an address up by its index. Without it the chain's
	// wallet allocates addresses in order.
	DerivationIndexes bool
}

// specs is the table of supported chains, in the order of All.
var specs = []Spec{
	{Chain: BTC, Name: "Bitcoin", Decimals: 8, URIScheme: "bitcoin", URIAmountKey: "amount", URILabelKey: "label",
		DerivationIndexes: true},
	{Chain: LTC, Name: "Litecoin", Decimals: 8, URIScheme: "litecoin", URIAmountKey: "amount", URILabelKey: "label",
		DerivationIndexes: true},
	{Chain: XMR, Name: "Monero", Decimals: 12, URIScheme: "monero", URIAmountKey: "tx_amount",
		URILabelKey: "tx_description"},
}

// All lists the supported chains.
var All = func() []Chain {
	out := make([]Chain, len(specs))
	for i, s := range specs {
		out[i] = s.Chain
	}
	return out
}()

// Spec returns c's description; ok is false for an unsupported chain.
func (c Chain) Spec() (s Spec, ok bool) {
	for _, s := range specs {
		if s.Chain == c {
			return s, true
		}
	}
	return Spec{}, false
}

// ParseChain accepts a chain's id ("btc") or name ("bitcoin") in any case.
func ParseChain(s string) (Chain, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for _, sp := range specs {
		if name == string(sp.Chain) || name == strings.ToLower(sp.Name) {
			return sp.Chain, nil
		}
	}
	return "", fmt.Errorf("unknown chain %q (want %s)", s, Choices())
}

// Choices lists the chain ids for messages: "btc, ltc or xmr".
func Choices() string {
	ids := make([]string, len(All))
	for i, c := range All {
		ids[i] = string(c)
	}
	if len(ids) == 1 {
		return ids[0]
	}
	return strings.Join(ids[:len(ids)-1], ", ") + " or " + ids[len(ids)-1]
}
