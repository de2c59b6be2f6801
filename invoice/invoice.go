package invoice

import (
	"crypto/rand"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// Status is an invoice's state; its string form is what the ledger stores,
// the API answers and the IPN carries.
type Status string

const (
	StatusNew        Status = "new"        // waiting for the amount; nothing or a part received
	StatusProcessing Status = "processing" // on-time payments cover the amount, not yet confirmed
	StatusPaid       Status = "paid"       // confirmed payments cover the amount exactly
	StatusOverpaid   Status = "overpaid"   // confirmed payments exceed the amount (ExcessAtomic)
	StatusUnderpaid  Status = "underpaid"  // expired with something, not enough, received in time
	StatusExpired    Status = "expired"    // expired with nothing received
	StatusLate       Status = "late"       // a payment first seen after expiry: the merchant decides
	StatusReversed   Status = "reversed"   // was covered, then a lost payment (reorg, double spend) took the cover away
	StatusCancelled  Status = "cancelled"  // cancelled by the merchant while new
)

// Statuses lists every status, for validation and documentation.
var Statuses = []Status{StatusNew, StatusProcessing, StatusPaid, StatusOverpaid, StatusUnderpaid,
	StatusExpired, StatusLate, StatusReversed, StatusCancelled}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// ParseStatus accepts a status name (for GET /invoices?status=).
func ParseStatus(s string) (Status, error) {
	if st := Status(s); st.Valid() {
		return st, nil
	}
	return "", &FieldError{Field: "status", Msg: "must be one of new, processing, paid, overpaid, underpaid, expired, late, reversed, cancelled"}
}

// covering reports whether the status says the amount was covered at the
// previous evaluation (the ground a reversal stands on).
func (s Status) covering() bool {
	switch s {
	case StatusProcessing, StatusPaid, StatusOverpaid, StatusReversed:
		return true
	}
	return false
}

// expiredFamily reports whether the status says the invoice expired
// without cover.
func (s Status) expiredFamily() bool {
	switch s {
	case StatusExpired, StatusUnderpaid, StatusLate:
		return true
	}
	return false
}

// Invoice is one request for payment. Times are UTC with microsecond
// precision, like the ledger's. The amounts are those of the last
// evaluation.
type Invoice struct {
	ID           string
	Chain        chains.Chain
	Address      string
	AmountAtomic uint64
	// MaxConfirms is the invoice's confirmation rule: a deposit is
	// confirmed (PaidAtomic) at this depth, as the ledger applies it.
	MaxConfirms int
	CreatedAt   time.Time
	ExpiresAt   time.Time
	OrderID     string // the shop's id; "" when none
	Description string
	// Metadata is a compact JSON object (at most MaxMetadataBytes), or nil.
	Metadata json.RawMessage

	// SubscriptionID is the IPN subscription made with the invoice (its
	// url); 0 when none.
	SubscriptionID int64
	// UpdatedAt is when the ledger last wrote the invoice.
	UpdatedAt time.Time

	Status        Status
	PaidAtomic    uint64 // confirmed
	PendingAtomic uint64 // live, not confirmed
	DueAtomic     uint64 // max(AmountAtomic - PaidAtomic - PendingAtomic, 0)
	ExcessAtomic  uint64 // PaidAtomic - AmountAtomic when positive
}

// URI is the invoice's payment URI, from its chain's spec: the address,
// the amount and the description as the label (bitcoin:ADDR?amount=…&
// label=…, monero:ADDR?tx_amount=…&tx_description=…).
func (inv Invoice) URI() string {
	return inv.Chain.PaymentURI(inv.Address, inv.AmountAtomic, inv.Description)
}

// IDPrefix starts every invoice id.
const IDPrefix = "inv_"

// idTextLen is the length of crypto/rand.Text: 26 base32 characters, 130
// bits.
const idTextLen = 26

// NewID returns a fresh unguessable invoice id: IDPrefix and 26 lower-case
// base32 characters from crypto/rand (130 bits), safe in a URL path.
func NewID() string {
	return IDPrefix + strings.ToLower(rand.Text())
}

// ValidID reports whether s has the form of an invoice id, so a handler can
// answer 404 without asking the ledger about junk.
func ValidID(s string) bool {
	text, ok := strings.CutPrefix(s, IDPrefix)
	if !ok || len(text) != idTextLen {
		return false
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// New makes an invoice from validated parameters, an id from NewID and the
// address allocated for it, at now. Its status is new, nothing is paid and
// the whole amount is due. Creating an invoice makes no IPN.
func New(p Params, id, address string, now time.Time) Invoice {
	created := ledgerTime(now)
	return Invoice{
		ID:           id,
		Chain:        p.Chain,
		Address:      address,
		AmountAtomic: p.AmountAtomic,
		MaxConfirms:  p.MaxConfirms,
		CreatedAt:    created,
		ExpiresAt:    created.Add(p.ExpiresIn),
		OrderID:      p.OrderID,
		Description:  p.Description,
		Metadata:     p.Metadata,
		Status:       StatusNew,
		DueAtomic:    p.AmountAtomic,
	}
}

// ledgerTime is t in UTC at the ledger's precision (unix microseconds),
// without a monotonic reading, so an invoice compares the same before and
// after a round trip through the ledger.
func ledgerTime(t time.Time) time.Time {
	return t.Round(0).UTC().Truncate(time.Microsecond)
}

// Notice is the invoice block of an IPN body and of API answers: amounts
// as decimal strings of atomic units (exact in every JSON reader), times in
// RFC 3339.
type Notice struct {
	ID            string `json:"id"`
	OrderID       string `json:"order_id"`
	Status        Status `json:"status"`
	AmountAtomic  string `json:"amount_atomic"`
	PaidAtomic    string `json:"paid_atomic"`
	PendingAtomic string `json:"pending_atomic"`
	DueAtomic     string `json:"due_atomic"`
	ExcessAtomic  string `json:"excess_atomic"`
	ExpiresAt     string `json:"expires_at"`
}

// Notice renders the invoice's IPN block.
func (inv Invoice) Notice() Notice {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return Notice{
		ID: inv.ID, OrderID: inv.OrderID, Status: inv.Status,
		AmountAtomic: u(inv.AmountAtomic), PaidAtomic: u(inv.PaidAtomic), PendingAtomic: u(inv.PendingAtomic),
		DueAtomic: u(inv.DueAtomic), ExcessAtomic: u(inv.ExcessAtomic),
		ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339Nano),
	}
}
