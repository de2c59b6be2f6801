package checkout

import (
	"fmt"
	"strings"
	"time"

	"github.com/ipnd/ipnd/invoice"
)

// The words the page shows for an invoice's status (state.Status, the
// element #status), and whether the customer should still pay.
const (
	shownWaiting   = "waiting"   // new: nothing or a part received
	shownSeen      = "seen"      // processing: the payment is seen, not yet confirmed
	shownConfirmed = "confirmed" // paid or overpaid
	shownExpired   = "expired"
	shownUnderpaid = "underpaid"
	shownLate      = "late"
	shownReversed  = "reversed"
	shownCancelled = "cancelled"
)

// state is what the page shows of an invoice, rendered into the page and
// sent as each server-sent event (JSON).
type state struct {
	Status  string `json:"status"`  // one of the shown* words
	Invoice string `json:"invoice"` // the invoice's own status
	Title   string `json:"title"`   // a short sentence for the status
	Detail  string `json:"detail"`  // what the customer should know or do
	// Due is what is still to pay, with the unit ("0.0005 BTC"); "" when
	// nothing is.
	Due string `json:"due"`
	// Payable: show the payment instructions (address, QR, time left).
	Payable bool `json:"payable"`
	// ExpiresInMS is how long until the invoice expires, as of the
	// server's clock (the page counts down from it).
	ExpiresInMS int64 `json:"expires_in_ms"`
	// Final: nothing more is expected (the page stops refreshing itself
	// without JavaScript).
	Final bool `json:"final"`
}

// unit is the chain's ticker for people: "BTC", "XMR".
func unit(inv invoice.Invoice) string { return strings.ToUpper(string(inv.Chain)) }

func amount(inv invoice.Invoice, atomic uint64) string {
	return inv.Chain.ShortAmount(atomic) + " " + unit(inv)
}

// stateOf is the page's view of inv at now (the ledger's clock).
func stateOf(inv invoice.Invoice, now time.Time) state {
	s := state{Invoice: string(inv.Status), ExpiresInMS: max(inv.ExpiresAt.Sub(now).Milliseconds(), 0)}
	received := inv.PaidAtomic + inv.PendingAtomic // bounded by the ledger's checked sums
	if inv.DueAtomic > 0 {
		s.Due = amount(inv, inv.DueAtomic)
	}
	switch inv.Status {
	case invoice.StatusNew:
		s.Status, s.Payable = shownWaiting, true
		s.Title = "Waiting for your payment"
		s.Detail = "Send exactly the amount below to the address below, or scan the QR code with your wallet."
		if received > 0 {
			s.Title = "Part of the payment arrived"
			s.Detail = fmt.Sprintf("%s arrived; send the rest, %s, to the same address.", amount(inv, received), s.Due)
		}
	case invoice.StatusProcessing:
		s.Status = shownSeen
		s.Title = "Payment seen"
		s.Detail = fmt.Sprintf("Your payment is on its way; it counts as paid after %d confirmation(s). You can close this page.", inv.MaxConfirms)
	case invoice.StatusPaid, invoice.StatusOverpaid:
		s.Status, s.Final = shownConfirmed, true
		s.Title = "Payment confirmed"
		s.Detail = "Thank you: the payment is confirmed."
		if inv.ExcessAtomic > 0 {
			s.Detail = fmt.Sprintf("Thank you: the payment is confirmed. You paid %s more than asked; the merchant can refund it.",
				amount(inv, inv.ExcessAtomic))
		}
	case invoice.StatusExpired:
		s.Status, s.Final = shownExpired, true
		s.Title = "This payment request expired"
		s.Detail = "Nothing arrived in time. Do not pay to this address any more; ask the merchant for a new payment request."
	case invoice.StatusUnderpaid:
		s.Status, s.Final = shownUnderpaid, true
		s.Title = "Underpaid"
		s.Detail = fmt.Sprintf("The payment request expired with %s still due. Contact the merchant; do not pay to this address any more.", s.Due)
	case invoice.StatusLate:
		s.Status, s.Final = shownLate, true
		s.Title = "Payment arrived after the deadline"
		s.Detail = "A payment arrived after this request expired; the merchant decides what happens with it."
	case invoice.StatusReversed:
		s.Status, s.Final = shownReversed, true
		s.Title = "Payment reversed"
		s.Detail = "The payment that covered this request is no longer in the blockchain. Contact the merchant."
	case invoice.StatusCancelled:
		s.Status, s.Final = shownCancelled, true
		s.Title = "Cancelled"
		s.Detail = "The merchant cancelled this payment request. Do not pay to this address."
	default:
		s.Status, s.Final = string(inv.Status), true
		s.Title = "Unknown state"
	}
	if !s.Payable {
		s.ExpiresInMS = 0
	}
	if s.Status != shownWaiting && s.Status != shownUnderpaid {
		s.Due = "" // nothing more is to be paid to this address
	}
	return s
}
