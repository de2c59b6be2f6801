package ipn

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/invoice"
)

var sampleNotice = invoice.Notice{ID: "inv_abcdefghijklmnopqrstuvwxyz", OrderID: "order-42", Status: invoice.StatusProcessing,
	AmountAtomic: "1000005", PaidAtomic: "1000000", PendingAtomic: "5", DueAtomic: "0", ExcessAtomic: "0",
	ExpiresAt: "2024-05-06T06:23:09Z"}

const sampleInvoiceJSON = `{"id":"inv_abcdefghijklmnopqrstuvwxyz","order_id":"order-42","status":"processing",` +
	`"amount_atomic":"1000005","paid_atomic":"1000000","pending_atomic":"5","due_atomic":"0","excess_atomic":"0",` +
	`"expires_at":"2024-05-06T06:23:09Z"}`

// A subscription made with an invoice gets the invoice block last in the
// body, in both formats; one without gets none (TestPayloadJSON).
func TestPayloadInvoiceBlock(t *testing.T) {
	d := sampleData(chains.BTC, "json")
	n := sampleNotice
	d.Invoice = &n
	b, _, err := Payload(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), `,"changes":`+sampleChanges+`,"invoice":`+sampleInvoiceJSON+`}`) {
		t.Errorf("body %s does not end with changes and the invoice block %s", b, sampleInvoiceJSON)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"address", "confirmed", "unconfirmed"} { // the echo is unchanged
		if _, ok := m[k]; !ok {
			t.Errorf("body lacks %s", k)
		}
	}

	d.Subscription.Format = "form"
	b, _, err = Payload(d)
	if err != nil {
		t.Fatal(err)
	}
	v, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Get("invoice"); got != sampleInvoiceJSON {
		t.Errorf("form invoice = %s, want %s", got, sampleInvoiceJSON)
	}
}
