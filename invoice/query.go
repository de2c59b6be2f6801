package invoice

import "errors"

// Lists of invoices are keyset-paginated: a Query carries the opaque
// cursor After ("" for the first page) and a Limit, and the Page answered
// holds Next, the cursor of the following page ("" on the last).

// MaxListLimit is the largest page of a list.
const MaxListLimit = 100

// Query filters a list of invoices, newest first; empty fields match
// everything.
type Query struct {
	Status  Status
	OrderID string // exact
	After   string // the previous page's Next; "" for the first page
	Limit   int    // 1..MaxListLimit
}

// Page is one page of a list.
type Page struct {
	Items []Invoice
	Next  string
}

// ErrInvalidCursor is wrapped when a Query's After is not a cursor the
// ledger made.
var ErrInvalidCursor = errors.New("invalid cursor")
