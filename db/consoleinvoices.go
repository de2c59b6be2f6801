package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/invoice"
)

// ListInvoices is the console's invoice list (console.InvoiceStore):
// Invoices with the console's query and page types; a cursor the ledger
// did not make wraps console.ErrInvalidCursor.
func (l *Ledger) ListInvoices(ctx context.Context, q console.InvoiceQuery) (console.Page[invoice.Invoice], error) {
	limit := min(max(q.Limit, 1), invoice.MaxListLimit)
	page, err := l.Invoices(ctx, invoice.Query{Status: q.Status, OrderID: q.OrderID, After: q.After, Limit: limit})
	if errors.Is(err, invoice.ErrInvalidCursor) {
		return console.Page[invoice.Invoice]{}, fmt.Errorf("%w: %w", console.ErrInvalidCursor, err)
	}
	if err != nil {
		return console.Page[invoice.Invoice]{}, err
	}
	return console.Page[invoice.Invoice]{Items: page.Items, Next: page.Next}, nil
}
