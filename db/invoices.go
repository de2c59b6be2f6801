package db

// Invoices (package invoice): creating one with its address and IPN
// subscription, reading and listing them, cancelling one.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ledger"
)

// ErrInvoiceAddressTaken: the address already has an invoice (addresses of
// invoices are fresh; the adapter handed one out twice).
var ErrInvoiceAddressTaken = errors.New("address already has an invoice")

const invoiceCols = `i.id, i.public_id, i.chain, a.address, i.amount, i.max_confirms, i.created_at, i.expires_at, i.status,
  i.paid, i.pending, i.due, i.excess, i.description, i.metadata, i.order_id, i.subscription_id, i.updated_at`

// invoiceRow is an invoice as stored: the record and its internal keys.
type invoiceRow struct {
	seq       int64 // invoices.id: creation order, list cursors
	addressID int64
	inv       invoice.Invoice
}

func scanInvoice(sc interface{ Scan(...any) error }) (invoice.Invoice, int64, error) {
	var (
		inv                invoice.Invoice
		seq                int64
		chain, status      string
		created, exp, upd  int64
		metadata, orderID  sql.NullString
		subscriptionID     sql.NullInt64
		paid, pending, due uint64
	)
	if err := sc.Scan(&seq, &inv.ID, &chain, &inv.Address, &inv.AmountAtomic, &inv.MaxConfirms, &created, &exp, &status,
		&paid, &pending, &due, &inv.ExcessAtomic, &inv.Description, &metadata, &orderID, &subscriptionID, &upd); err != nil {
		return invoice.Invoice{}, 0, err
	}
	inv.Chain, inv.Status = chains.Chain(chain), invoice.Status(status)
	inv.CreatedAt, inv.ExpiresAt, inv.UpdatedAt = fromMicros(created), fromMicros(exp), fromMicros(upd)
	inv.PaidAtomic, inv.PendingAtomic, inv.DueAtomic = paid, pending, due
	if metadata.Valid && metadata.String != "" {
		inv.Metadata = []byte(metadata.String)
	}
	inv.OrderID, inv.SubscriptionID = orderID.String, subscriptionID.Int64
	return inv, seq, nil
}

func invoiceBy(ctx context.Context, q queryer, where string, args ...any) (invoice.Invoice, int64, error) {
	inv, seq, err := scanInvoice(q.QueryRowContext(ctx, `SELECT `+invoiceCols+` FROM invoices i JOIN addresses a ON a.id = i.address_id WHERE `+where, args...))
	if err != nil {
		return invoice.Invoice{}, 0, notFound(err, "invoice")
	}
	return inv, seq, nil
}

// Invoice reads an invoice by its id (inv_…); ErrNotFound when there is none.
func (l *Ledger) Invoice(ctx context.Context, id string) (invoice.Invoice, error) {
	inv, _, err := invoiceBy(ctx, l.db, `i.public_id = ?`, id)
	return inv, err
}

// InvoiceByOrderID reads the invoice of the shop's order id; ErrNotFound
// when there is none.
func (l *Ledger) InvoiceByOrderID(ctx context.Context, orderID string) (invoice.Invoice, error) {
	inv, _, err := invoiceBy(ctx, l.db, `i.order_id = ?`, orderID)
	return inv, err
}

// CreateInvoice records a new invoice from validated parameters, with the
// id id, at addr (an address of p.Chain the chain's adapter just handed
// out and recorded), created now on the ledger's clock (the clock of the
// deposits' first_seen) and expiring p.ExpiresIn later. With sub (URL,
// Format and Secret set) it also subscribes sub.URL to the address with the
// invoice's max_confirms, in the same transaction; the subscription is
// answered with its id and the endpoint's secret.
//
// When p.OrderID is not empty and an invoice has it, that invoice is
// answered instead and created is false (nothing is recorded; addr stays
// unused). Concurrent creations with one order id make one invoice.
func (l *Ledger) CreateInvoice(ctx context.Context, p invoice.Params, id, addr string, sub *ledger.Subscription) (inv invoice.Invoice, s *ledger.Subscription, created bool, err error) {
	if !invoice.ValidID(id) {
		return invoice.Invoice{}, nil, false, fmt.Errorf("create invoice: malformed id %q", id)
	}
	if l.dialect.name == "sqlite" && p.AmountAtomic > invoice.MaxAmountAtomic {
		return invoice.Invoice{}, nil, false, fmt.Errorf("create invoice: amount %d exceeds what the SQLite ledger can hold", p.AmountAtomic)
	}
	format := "json"
	if sub != nil && sub.Format != "" {
		format = sub.Format
	}
	create := func(tx *sql.Tx) error {
		s, created = nil, false
		if p.OrderID != "" {
			existing, _, err := invoiceBy(ctx, tx, `i.order_id = ?`, p.OrderID)
			if err == nil {
				inv = existing
				s, err = invoiceSubscription(ctx, tx, existing)
				return err
			}
			if !isNotFound(err) {
				return err
			}
		}
		a, err := addressBy(ctx, tx, `chain = ? AND address = ?`, string(p.Chain), ledgerAddress(addr))
		if err != nil {
			return fmt.Errorf("create invoice: %w", err)
		}
		var subID, subCreated = int64(0), false
		if sub != nil {
			if subID, subCreated, err = l.subscribeRow(ctx, tx, p.Chain, a.ID, sub.URL, p.MaxConfirms, format, sub.Secret); err != nil {
				return err
			}
		}
		inv = invoice.New(p, id, a.Address, l.now())
		inv.SubscriptionID, inv.UpdatedAt = subID, inv.CreatedAt
		var metadata, orderID, subscription any
		if inv.Metadata != nil {
			metadata = string(inv.Metadata)
		}
		if inv.OrderID != "" {
			orderID = inv.OrderID
		}
		if subID != 0 {
			subscription = subID
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO invoices (public_id, chain, address_id, amount, max_confirms, created_at, expires_at,
  status, paid, pending, due, excess, description, metadata, order_id, subscription_id, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, 0, ?, ?, ?, ?, ?)`,
			inv.ID, string(inv.Chain), a.ID, inv.AmountAtomic, inv.MaxConfirms, micros(inv.CreatedAt), micros(inv.ExpiresAt),
			string(inv.Status), inv.DueAtomic, inv.Description, metadata, orderID, subscription, micros(inv.CreatedAt))
		if isDuplicate(err) {
			// Another creation with the order id won (a second try reads
			// its invoice), or the address has an invoice already.
			if inv.OrderID != "" {
				if _, _, e := invoiceBy(ctx, tx, `i.order_id = ?`, inv.OrderID); e == nil || !isNotFound(e) {
					return errInsertRace
				}
				if l.dialect.name == "mysql" {
					return errInsertRace // not visible yet under READ COMMITTED: try again
				}
			}
			return fmt.Errorf("create invoice at %s %s: %w", p.Chain, addr, ErrInvoiceAddressTaken)
		}
		if err != nil {
			return fmt.Errorf("create invoice: %w", err)
		}
		if subID != 0 {
			if _, _, err := l.refresh(ctx, tx, subID, refreshMode{initial: subCreated}); err != nil {
				return err
			}
			if s, err = invoiceSubscription(ctx, tx, inv); err != nil {
				return err
			}
		}
		created = true
		return nil
	}
	for try := 0; try < 5; try++ {
		if err = l.ExecTx(ctx, create); !errors.Is(err, errInsertRace) {
			break
		}
	}
	if err != nil {
		return invoice.Invoice{}, nil, false, err
	}
	return inv, s, created, nil
}

// invoiceSubscription reads inv's subscription (nil when it has none).
func invoiceSubscription(ctx context.Context, q queryer, inv invoice.Invoice) (*ledger.Subscription, error) {
	if inv.SubscriptionID == 0 {
		return nil, nil
	}
	sub, err := subscriptionBy(ctx, q, `s.id = ?`, inv.SubscriptionID)
	if err != nil {
		return nil, err
	}
	return &sub, nil
}

// InvoiceSubscription reads the subscription made with an invoice (nil
// when it was made without a url).
func (l *Ledger) InvoiceSubscription(ctx context.Context, inv invoice.Invoice) (*ledger.Subscription, error) {
	return invoiceSubscription(ctx, l.db, inv)
}

// ListInvoices lists invoices newest first, filtered by q, one page at a
// time (the cursor is the last invoice's creation sequence): GET /invoices
// and the console's invoice page (console.InvoiceStore). An OrderID
// matches at most one invoice. A cursor the ledger did not make wraps
// ledger.ErrInvalidCursor.
func (l *Ledger) ListInvoices(ctx context.Context, q ledger.InvoiceQuery) (ledger.Page[invoice.Invoice], error) {
	limit := min(max(q.Limit, 1), ledger.MaxListLimit)
	where, args := "1 = 1", []any{}
	if q.After != "" {
		after, err := strconv.ParseInt(q.After, 10, 64)
		if err != nil || after <= 0 || strconv.FormatInt(after, 10) != q.After {
			return ledger.Page[invoice.Invoice]{}, fmt.Errorf("list invoices: %w", ledger.ErrInvalidCursor)
		}
		where, args = "i.id < ?", append(args, after)
	}
	if q.Status != "" {
		where, args = "i.status = ? AND "+where, append([]any{string(q.Status)}, args...)
	}
	if q.OrderID != "" {
		where, args = "i.order_id = ? AND "+where, append([]any{q.OrderID}, args...)
	}
	rows, err := l.db.QueryContext(ctx, `SELECT `+invoiceCols+` FROM invoices i JOIN addresses a ON a.id = i.address_id
  WHERE `+where+` ORDER BY i.id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return ledger.Page[invoice.Invoice]{}, fmt.Errorf("list invoices: %w", err)
	}
	defer rows.Close()
	var page ledger.Page[invoice.Invoice]
	var last int64
	for rows.Next() {
		inv, seq, err := scanInvoice(rows)
		if err != nil {
			return ledger.Page[invoice.Invoice]{}, fmt.Errorf("list invoices: %w", err)
		}
		if len(page.Items) == limit {
			page.Next = strconv.FormatInt(last, 10)
			break
		}
		page.Items, last = append(page.Items, inv), seq
	}
	return page, rows.Err()
}

// CancelInvoice cancels a new invoice with nothing received (invoice.Cancel),
// notifying its subscription of the transition. An invoice that can not be
// cancelled is answered as it is now with an error wrapping
// invoice.ErrNotCancellable (an expiry that was due is stored and
// notified on the way); cancelling a cancelled invoice again succeeds.
func (l *Ledger) CancelInvoice(ctx context.Context, id string) (invoice.Invoice, error) {
	var out invoice.Invoice
	var refused error
	err := l.ExecTx(ctx, func(tx *sql.Tx) error {
		ev, err := l.evaluateInvoice(ctx, tx, `i.public_id = ?`, []any{id}, func(inv invoice.Invoice, ds []invoice.Deposit, now time.Time) (invoice.Evaluation, error) {
			ev, err := invoice.Cancel(inv, ds, now)
			refused = nil
			if errors.Is(err, invoice.ErrNotCancellable) {
				refused, err = err, nil
			}
			return ev, err
		})
		if err != nil {
			return err
		}
		if err := l.notifyTransition(ctx, tx, ev); err != nil {
			return err
		}
		out = ev.Invoice
		return nil
	})
	if err != nil {
		return invoice.Invoice{}, err
	}
	return out, refused
}
