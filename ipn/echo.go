package ipn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// ErrNotAcknowledged is wrapped by every CheckEcho failure.
var ErrNotAcknowledged = errors.New("not acknowledged")

// CheckEcho decides whether a receiver's answer acknowledges n: the status
// must be 2xx and the body a JSON object whose "address", "confirmed" and
// "unconfirmed" equal what was sent. Amounts may be JSON strings or numbers
// and are compared as exact decimals ("0.0100", "0.01" and 0.01 are equal);
// extra fields are ignored. The error says why an answer does not count.
func CheckEcho(n ledger.Notification, status int, body []byte) error {
	return CheckEchoOf(n.Chain, n.Address, n.Confirmed, n.Unconfirmed, status, body)
}

// CheckEchoOf is CheckEcho for an IPN that is no ledger row (the receiver
// test kit's): address and the totals sent on chain c, in atomic units.
func CheckEchoOf(c chains.Chain, address string, confirmed, unconfirmed uint64, status int, body []byte) error {
	if status < 200 || status > 299 {
		return fmt.Errorf("%w: HTTP status %d", ErrNotAcknowledged, status)
	}
	if !c.Valid() {
		return fmt.Errorf("%w: notification has unknown chain %q", ErrNotAcknowledged, c)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return fmt.Errorf("%w: response is not a JSON object", ErrNotAcknowledged)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: response has data after the JSON object", ErrNotAcknowledged)
	}
	addr, ok := obj["address"].(string)
	if !ok {
		return fmt.Errorf("%w: echo has no address string", ErrNotAcknowledged)
	}
	if addr != address {
		return fmt.Errorf("%w: echoed address differs", ErrNotAcknowledged)
	}
	check := func(field string, sent uint64) error {
		var got string
		switch v := obj[field].(type) {
		case string:
			got = v
		case json.Number:
			got = v.String()
		case nil:
			return fmt.Errorf("%w: echo has no %s", ErrNotAcknowledged, field)
		default:
			return fmt.Errorf("%w: echoed %s is not a number or string", ErrNotAcknowledged, field)
		}
		want := c.FormatAmount(sent)
		if !chains.DecimalEqual(got, want) {
			return fmt.Errorf("%w: echoed %s %q, sent %s", ErrNotAcknowledged, field, truncate(got, 40), want)
		}
		return nil
	}
	if err := check("confirmed", confirmed); err != nil {
		return err
	}
	return check("unconfirmed", unconfirmed)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
