package api

// POST /invoices, GET /invoices, GET /invoices/{id} and
// POST /invoices/{id}/cancel; the checkout pages under /pay/ are package
// checkout's.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/checkout"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ledger"
)

// InvoiceLedger is what the invoice endpoints and the checkout pages need
// of the ledger (*db.Ledger).
type InvoiceLedger interface {
	CreateInvoice(ctx context.Context, p invoice.Params, id, addr string, sub *ledger.Subscription) (invoice.Invoice, *ledger.Subscription, bool, error)
	Invoice(ctx context.Context, id string) (invoice.Invoice, error)
	InvoiceByOrderID(ctx context.Context, orderID string) (invoice.Invoice, error)
	InvoiceSubscription(ctx context.Context, inv invoice.Invoice) (*ledger.Subscription, error)
	ListInvoices(ctx context.Context, q ledger.InvoiceQuery) (ledger.Page[invoice.Invoice], error)
	CancelInvoice(ctx context.Context, id string) (invoice.Invoice, error)
	// Now is the ledger's clock (the checkout page's time left).
	Now() time.Time
}

// invoiceJSON is an invoice as the API answers it.
type invoiceJSON struct {
	ID             string          `json:"id"`
	Chain          chains.Chain    `json:"chain"`
	Address        string          `json:"address"`
	Status         invoice.Status  `json:"status"`
	Amount         string          `json:"amount"`
	AmountAtomic   string          `json:"amount_atomic"`
	Paid           string          `json:"paid"`
	PaidAtomic     string          `json:"paid_atomic"`
	Pending        string          `json:"pending"`
	PendingAtomic  string          `json:"pending_atomic"`
	Due            string          `json:"due"`
	DueAtomic      string          `json:"due_atomic"`
	Excess         string          `json:"excess"`
	ExcessAtomic   string          `json:"excess_atomic"`
	MaxConfirms    int             `json:"max_confirms"`
	URI            string          `json:"uri"`
	QRPNG          string          `json:"qr_png"`
	QRSVG          string          `json:"qr_svg"`
	CheckoutURL    string          `json:"checkout_url"`
	CreatedAt      string          `json:"created_at"`
	ExpiresAt      string          `json:"expires_at"`
	UpdatedAt      string          `json:"updated_at"`
	OrderID        string          `json:"order_id,omitempty"`
	Description    string          `json:"description,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	SubscriptionID int64           `json:"subscription_id,omitempty"`
	// Subscription (with its endpoint's secret) is in POST /invoices'
	// answer only.
	Subscription *subscribedJSON `json:"subscription,omitempty"`
	// Created, in POST /invoices' answer: false when order_id named an
	// invoice made before.
	Created *bool `json:"created,omitempty"`
}

func (s *Server) invoiceJSON(r *http.Request, inv invoice.Invoice) invoiceJSON {
	c, u := inv.Chain, func(v uint64) string { return strconv.FormatUint(v, 10) }
	base := s.publicBase(r)
	return invoiceJSON{
		ID: inv.ID, Chain: c, Address: inv.Address, Status: inv.Status,
		Amount: c.FormatAmount(inv.AmountAtomic), AmountAtomic: u(inv.AmountAtomic),
		Paid: c.FormatAmount(inv.PaidAtomic), PaidAtomic: u(inv.PaidAtomic),
		Pending: c.FormatAmount(inv.PendingAtomic), PendingAtomic: u(inv.PendingAtomic),
		Due: c.FormatAmount(inv.DueAtomic), DueAtomic: u(inv.DueAtomic),
		Excess: c.FormatAmount(inv.ExcessAtomic), ExcessAtomic: u(inv.ExcessAtomic),
		MaxConfirms: inv.MaxConfirms, URI: inv.URI(),
		QRPNG: checkout.QRPNGURL(base, inv.ID), QRSVG: checkout.QRSVGURL(base, inv.ID), CheckoutURL: checkout.PageURL(base, inv.ID),
		CreatedAt: stamp(inv.CreatedAt), ExpiresAt: stamp(inv.ExpiresAt), UpdatedAt: stamp(inv.UpdatedAt),
		OrderID: inv.OrderID, Description: inv.Description, Metadata: inv.Metadata, SubscriptionID: inv.SubscriptionID,
	}
}

// publicBase is where customers reach ipnd: [invoices] public_url, else
// the scheme and host this request came to.
func (s *Server) publicBase(r *http.Request) string {
	if u := s.o.Invoices.PublicURL; u != "" {
		return strings.TrimRight(u, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// invoicePolicy is the frame of POST /invoices' input.
func (s *Server) invoicePolicy() invoice.Policy {
	return invoice.Policy{
		DefaultExpiry: s.o.Invoices.Expiry.D(), MinExpiry: s.o.Invoices.MinExpiry.D(), MaxExpiry: s.o.Invoices.MaxExpiry.D(),
		DefaultMaxConfirms: s.o.IPN.MaxConfirms,
		ChainEnabled:       func(c chains.Chain) bool { _, ok := s.o.Chains[c]; return ok },
	}
}

func (s *Server) createInvoice(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	req, err := createRequest(p)
	if err != nil {
		return err
	}
	params, err := s.invoicePolicy().Validate(req)
	var fe *invoice.FieldError
	if errors.As(err, &fe) {
		return badField(fe.Field, "%s", fe.Msg)
	}
	if err != nil {
		return err
	}
	ctx := r.Context()
	rawURL, err := s.subscriberURL(ctx, p, false)
	if err != nil {
		return err
	}
	f, err := format(p)
	if err != nil {
		return err
	}
	if params.OrderID != "" {
		defer s.orders.lock(params.OrderID)()
		existing, err := s.o.InvoiceLedger.InvoiceByOrderID(ctx, params.OrderID)
		if err == nil {
			return s.answerCreated(w, r, existing, params, nil, false)
		}
		if !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
	}
	id := invoice.NewID()
	a, err := s.o.Chains[params.Chain].Allocate(ctx, "invoice "+id)
	if err != nil {
		return adapterError("chain", err)
	}
	var sub *ledger.Subscription
	if rawURL != "" {
		secret, err := s.o.NewSecret()
		if err != nil {
			return err
		}
		sub = &ledger.Subscription{URL: rawURL, Format: f, Secret: secret}
	}
	inv, subscribed, created, err := s.o.InvoiceLedger.CreateInvoice(ctx, params, id, a.Address, sub)
	if err != nil {
		return err
	}
	if created {
		s.log.Info("invoice created", "invoice", inv.ID, "chain", inv.Chain, "amount", inv.AmountAtomic,
			"expires_at", inv.ExpiresAt, "subscribed", subscribed != nil)
		if subscribed != nil {
			s.o.Notify()
		}
	}
	return s.answerCreated(w, r, inv, params, subscribed, created)
}

// answerCreated answers POST /invoices: 201 with a new invoice, 200 with
// the invoice an order_id named before (409 when the request asks for
// another chain or amount than it has).
func (s *Server) answerCreated(w http.ResponseWriter, r *http.Request, inv invoice.Invoice, p invoice.Params, sub *ledger.Subscription, created bool) error {
	if !created && (inv.Chain != p.Chain || inv.AmountAtomic != p.AmountAtomic) {
		return &Error{Status: http.StatusConflict, Field: "order_id", Message: fmt.Sprintf(
			"order %s already has invoice %s for %s %s; ask for that amount again, or use another order_id",
			inv.OrderID, inv.ID, inv.Chain.ShortAmount(inv.AmountAtomic), strings.ToUpper(string(inv.Chain)))}
	}
	if !created && sub == nil {
		var err error
		if sub, err = s.o.InvoiceLedger.InvoiceSubscription(r.Context(), inv); err != nil {
			return err
		}
	}
	out := s.invoiceJSON(r, inv)
	out.Created = &created
	if sub != nil {
		out.Subscription = &subscribedJSON{Secret: sub.Secret, Created: created, SubscriptionFields: subscriptionFields(*sub)}
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.writeJSON(w, status, out)
	return nil
}

// invoiceID reads the {id} of an invoice path: 404 for anything that is not
// an invoice id.
func invoiceID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !invoice.ValidID(id) {
		return "", noInvoice(id)
	}
	return id, nil
}

func noInvoice(id string) *Error {
	if len(id) > 64 {
		id = id[:64] + "…"
	}
	return &Error{Status: http.StatusNotFound, Field: "id", Message: fmt.Sprintf("no invoice %q", id)}
}

func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request) error {
	id, err := invoiceID(r)
	if err != nil {
		return err
	}
	inv, err := s.o.InvoiceLedger.Invoice(r.Context(), id)
	if errors.Is(err, ledger.ErrNotFound) {
		return noInvoice(id)
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, s.invoiceJSON(r, inv))
	return nil
}

// InvoicePage is one page of GET /invoices.
type InvoicePage struct {
	Invoices []invoiceJSON `json:"invoices"`
	Next     string        `json:"next,omitempty"`
}

// listInvoices answers GET /invoices: newest first, optionally by status or
// order_id, a page of limit at a time (the list endpoints' limit and
// after).
func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var q ledger.InvoiceQuery
	if st, ok, err := p.str("status", 16); err != nil {
		return err
	} else if ok {
		if q.Status, err = invoice.ParseStatus(st); err != nil {
			return badField("status", "must be one of %s", statusNames())
		}
	}
	if q.OrderID, _, err = p.str("order_id", invoice.MaxOrderIDLen); err != nil {
		return err
	}
	if q.Cursor, err = listCursor(p); err != nil {
		return err
	}
	page, err := s.o.InvoiceLedger.ListInvoices(r.Context(), q)
	if err != nil {
		return listError(err)
	}
	out := InvoicePage{Invoices: make([]invoiceJSON, 0, len(page.Items)), Next: page.Next}
	for _, inv := range page.Items {
		out.Invoices = append(out.Invoices, s.invoiceJSON(r, inv))
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func statusNames() string {
	names := make([]string, len(invoice.Statuses))
	for i, st := range invoice.Statuses {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

// cancelInvoice answers POST /invoices/{id}/cancel: the invoice, cancelled
// (again: the same answer); 409 when it is not new or a payment was seen.
func (s *Server) cancelInvoice(w http.ResponseWriter, r *http.Request) error {
	id, err := invoiceID(r)
	if err != nil {
		return err
	}
	inv, err := s.o.InvoiceLedger.CancelInvoice(r.Context(), id)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return noInvoice(id)
	case errors.Is(err, invoice.ErrNotCancellable):
		return &Error{Status: http.StatusConflict, Field: "status", Message: fmt.Sprintf(
			"invoice %s can not be cancelled: %s (only a new invoice with nothing received can)", id,
			strings.TrimPrefix(err.Error(), invoice.ErrNotCancellable.Error()+": "))}
	case err != nil:
		return err
	}
	s.o.Notify()
	s.log.Info("invoice cancelled", "invoice", inv.ID)
	s.writeJSON(w, http.StatusOK, s.invoiceJSON(r, inv))
	return nil
}

// pay serves the checkout pages (package checkout).
func (s *Server) pay(w http.ResponseWriter, r *http.Request) error {
	s.checkout.ServeHTTP(w, r)
	return nil
}
