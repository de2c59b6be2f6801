package ledger

import "github.com/ipnd/ipnd/invoice"

// InvoiceQuery filters the invoices (newest first): GET /invoices and the
// console's invoice page. Empty fields match everything; OrderID matches
// exactly (at most one invoice).
type InvoiceQuery struct {
	Status  invoice.Status
	OrderID string
	Cursor
}
