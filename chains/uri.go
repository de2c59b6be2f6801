package chains

import (
	"net/url"
	"strings"
)

// ShortAmount renders atomic units as the shortest exact decimal: no
// trailing fractional zeros and no trailing dot ("0.01", "1", "0").
func (c Chain) ShortAmount(atomic uint64) string {
	s := c.FormatAmount(atomic)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	return s
}

// PaymentURI builds the payment URI of addr from c's spec: the amount
// (shortest exact decimal) when it is not zero and the label when it is
// not empty, percent-encoded as RFC 3986 asks (a space is %20, never +):
// bitcoin:ADDR?amount=0.01&label=Order%2042,
// monero:ADDR?tx_amount=1.5&tx_description=Order%2042. "" for an
// unsupported chain.
func (c Chain) PaymentURI(addr string, atomic uint64, label string) string {
	spec, ok := c.Spec()
	if !ok {
		return ""
	}
	var b strings.Builder
	b.WriteString(spec.URIScheme + ":" + addr)
	sep := "?"
	if atomic > 0 {
		b.WriteString(sep + spec.URIAmountKey + "=" + c.ShortAmount(atomic))
		sep = "&"
	}
	if label != "" && spec.URILabelKey != "" {
		b.WriteString(sep + spec.URILabelKey + "=" + strings.ReplaceAll(url.QueryEscape(label), "+", "%20"))
	}
	return b.String()
}
