package db_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// testClock is a ledger clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}
func (c *testClock) add(d time.Duration) { c.set(c.now().Add(d)) }

// invoiceLedgers runs fn on both backends with a test clock and ipn's
// payload builder (the IPN bodies carry the invoice block).
func invoiceLedgers(t *testing.T, fn func(t *testing.T, l *db.Ledger, clock *testClock)) {
	clock := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	contractWith(t, db.Options{Now: clock.now, Payload: ipn.Payload}, func(t *testing.T, l *db.Ledger) {
		clock.set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		fn(t, l, clock)
	})
}

const invoiceShopURL = "http://shop.example/ipn"

// newInvoice records address addr at index and an invoice for amount on
// it, with a subscription of invoiceShopURL at maxConfirms unless noURL.
func newInvoice(t *testing.T, l *db.Ledger, addr string, index uint32, amount uint64, maxConfirms int, orderID string, noURL bool) invoice.Invoice {
	t.Helper()
	mustAddr(t, l, chains.BTC, addr, index)
	p := invoice.Params{Chain: chains.BTC, AmountAtomic: amount, ExpiresIn: 15 * time.Minute, MaxConfirms: maxConfirms,
		OrderID: orderID, Description: "Order " + addr, Metadata: json.RawMessage(`{"cart":7}`)}
	var sub *ledger.Subscription
	if !noURL {
		sub = &ledger.Subscription{URL: invoiceShopURL, Secret: "ipnsec_test"}
	}
	inv, s, created, err := l.CreateInvoice(ctx, p, invoice.NewID(), addr, sub)
	if err != nil || !created {
		t.Fatalf("CreateInvoice: created %v, %v", created, err)
	}
	if !noURL && (s == nil || s.ID != inv.SubscriptionID || s.MaxConfirms != maxConfirms || s.Secret != "ipnsec_test") {
		t.Fatalf("CreateInvoice subscription %+v for invoice %+v", s, inv)
	}
	return inv
}

// ipnInvoices lists the invoice blocks of the subscription's IPNs, oldest
// first ("-" for a body without one).
func ipnInvoices(t *testing.T, l *db.Ledger, subID int64) []invoice.Notice {
	t.Helper()
	var out []invoice.Notice
	for _, n := range notes(t, l, subID) {
		var b struct{ Invoice *invoice.Notice }
		if err := json.Unmarshal(n.Body, &b); err != nil {
			t.Fatal(err)
		}
		if b.Invoice == nil {
			t.Fatalf("IPN %d without the invoice block: %s", n.ID, n.Body)
		}
		out = append(out, *b.Invoice)
	}
	return out
}

func invoiceStatuses(ns []invoice.Notice) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += " "
		}
		s += string(n.Status)
	}
	return s
}

func wantInvoice(t *testing.T, l *db.Ledger, id string, status invoice.Status, paid, pending, due, excess uint64) invoice.Invoice {
	t.Helper()
	inv, err := l.Invoice(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Status != status || inv.PaidAtomic != paid || inv.PendingAtomic != pending || inv.DueAtomic != due || inv.ExcessAtomic != excess {
		t.Fatalf("invoice %s: %s paid %d pending %d due %d excess %d; want %s %d %d %d %d", id, inv.Status,
			inv.PaidAtomic, inv.PendingAtomic, inv.DueAtomic, inv.ExcessAtomic, status, paid, pending, due, excess)
	}
	return inv
}

func wantIPNs(t *testing.T, l *db.Ledger, subID int64, want string) []invoice.Notice {
	t.Helper()
	ns := ipnInvoices(t, l, subID)
	if got := invoiceStatuses(ns); got != want {
		t.Fatalf("IPN invoice statuses %q, want %q", got, want)
	}
	return ns
}

func mempool(t *testing.T, l *db.Ledger, txid, addr string, amount uint64) {
	t.Helper()
	if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: txid, Address: addr, Amount: amount}}, nil); err != nil {
		t.Fatal(err)
	}
}

func block(t *testing.T, l *db.Ledger, h int64, ps ...chains.Payment) {
	t.Helper()
	if _, err := applyBlock(l, chains.BTC, blk(h), ps); err != nil {
		t.Fatal(err)
	}
}

// Exact payment: new → processing (mempool) → paid (max_confirms blocks),
// each in the chain write that causes it, one IPN per transition carrying
// the invoice block; creating the invoice makes none, and a block that
// moves nothing makes none either.
func TestInvoicePaidInTheChainWrite(t *testing.T) {
	invoiceLedgers(t, func(t *testing.T, l *db.Ledger, clock *testClock) {
		if err := l.SetStart(ctx, chains.BTC, blk(100)); err != nil {
			t.Fatal(err)
		}
		inv := newInvoice(t, l, "addrPaid", 0, 5000, 2, "order-1", false)
		if inv.Status != invoice.StatusNew || inv.DueAtomic != 5000 || !inv.ExpiresAt.Equal(clock.now().Add(15*time.Minute)) {
			t.Fatalf("new invoice %+v", inv)
		}
		wantIPNs(t, l, inv.SubscriptionID, "")
		clock.add(time.Second)
		mempool(t, l, "t1", "addrPaid", 5000)
		wantInvoice(t, l, inv.ID, invoice.StatusProcessing, 0, 5000, 0, 0)
		block(t, l, 101, chains.Payment{TxID: "t1", Address: "addrPaid", Amount: 5000}) // 1 of 2 confirmations
		wantInvoice(t, l, inv.ID, invoice.StatusProcessing, 0, 5000, 0, 0)
		block(t, l, 102)
		got := wantInvoice(t, l, inv.ID, invoice.StatusPaid, 5000, 0, 0, 0)
		if !got.UpdatedAt.Equal(clock.now()) || got.OrderID != "order-1" || string(got.Metadata) != `{"cart":7}` {
			t.Fatalf("paid invoice %+v", got)
		}
		ns := wantIPNs(t, l, inv.SubscriptionID, "processing paid")
		if want := got.Notice(); ns[1] != want {
			t.Fatalf("IPN block %+v, want %+v", ns[1], want)
		}
		block(t, l, 103)
		wantIPNs(t, l, inv.SubscriptionID, "processing paid")
		// Another subscription of the same address gets no invoice block.
		other, _, err := l.Subscribe(ctx, chains.BTC, "addrPaid", "http://other.example/ipn", 2, "json", "x")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range notes(t, l, other.ID) {
			var b map[string]any
			_ = json.Unmarshal(n.Body, &b)
			if _, ok := b["invoice"]; ok {
				t.Fatalf("a subscription not made with the invoice got its block: %s", n.Body)
			}
		}
	})
}

// Underpayment, then a top-up to the same address: new (with the amount
// due) → processing → paid; then an extra payment: overpaid with the
// excess. An invoice without a url moves the same way without IPNs.
func TestInvoiceTopUpAndOverpaid(t *testing.T) {
	invoiceLedgers(t, func(t *testing.T, l *db.Ledger, clock *testClock) {
		if err := l.SetStart(ctx, chains.BTC, blk(100)); err != nil {
			t.Fatal(err)
		}
		inv := newInvoice(t, l, "addrTop", 0, 5000, 1, "", false)
		bare := newInvoice(t, l, "addrBare", 1, 700, 1, "", true)
		clock.add(time.Second)
		mempool(t, l, "t1", "addrTop", 3000)
		wantInvoice(t, l, inv.ID, invoice.StatusNew, 0, 3000, 2000, 0)
		mempool(t, l, "t2", "addrTop", 2000)
		wantInvoice(t, l, inv.ID, invoice.StatusProcessing, 0, 5000, 0, 0)
		block(t, l, 101, chains.Payment{TxID: "t1", Address: "addrTop", Amount: 3000}, chains.Payment{TxID: "t2", Address: "addrTop", Amount: 2000},
			chains.Payment{TxID: "b1", Address: "addrBare", Amount: 700})
		wantInvoice(t, l, inv.ID, invoice.StatusPaid, 5000, 0, 0, 0)
		wantInvoice(t, l, bare.ID, invoice.StatusPaid, 700, 0, 0, 0)
		mempool(t, l, "t3", "addrTop", 1234)
		wantInvoice(t, l, inv.ID, invoice.StatusPaid, 5000, 1234, 0, 0)
		block(t, l, 102, chains.Payment{TxID: "t3", Address: "addrTop", Amount: 1234})
		wantInvoice(t, l, inv.ID, invoice.StatusOverpaid, 6234, 0, 0, 1234)
		// The partial payment's IPN (totals moved, no transition) carries
		// the invoice still new with what is due.
		ns := wantIPNs(t, l, inv.SubscriptionID, "new processing paid paid overpaid")
		if ns[0].DueAtomic != "2000" || ns[4].ExcessAtomic != "1234" || ns[4].PaidAtomic != "6234" {
			t.Fatalf("IPN blocks %+v", ns)
		}
	})
}

// Expiry happens exactly at expires_at: one microsecond before, the
// expiry pass leaves the invoice new; at expires_at it is expired (nothing
// received) or underpaid (a part), with one IPN each. A payment first seen
// after expires_at makes an expired invoice late.
func TestInvoiceExpiryIsExact(t *testing.T) {
	invoiceLedgers(t, func(t *testing.T, l *db.Ledger, clock *testClock) {
		if err := l.SetStart(ctx, chains.BTC, blk(100)); err != nil {
			t.Fatal(err)
		}
		nothing := newInvoice(t, l, "addrNothing", 0, 5000, 1, "", false)
		part := newInvoice(t, l, "addrPart", 1, 5000, 1, "", false)
		clock.add(time.Second)
		mempool(t, l, "p1", "addrPart", 100)
		clock.set(nothing.ExpiresAt.Add(-time.Microsecond))
		n, next, err := l.ExpireInvoices(ctx)
		if err != nil || n != 0 || !next.Equal(nothing.ExpiresAt) {
			t.Fatalf("ExpireInvoices 1 µs early: %d, next %v, %v; want 0, %v", n, next, err, nothing.ExpiresAt)
		}
		wantInvoice(t, l, nothing.ID, invoice.StatusNew, 0, 0, 5000, 0)
		clock.set(nothing.ExpiresAt)
		if n, next, err = l.ExpireInvoices(ctx); err != nil || n != 2 || !next.IsZero() {
			t.Fatalf("ExpireInvoices at expires_at: %d, next %v, %v; want 2 and none waiting", n, next, err)
		}
		got := wantInvoice(t, l, nothing.ID, invoice.StatusExpired, 0, 0, 5000, 0)
		if !got.UpdatedAt.Equal(nothing.ExpiresAt) {
			t.Fatalf("expired at %v, want %v", got.UpdatedAt, nothing.ExpiresAt)
		}
		wantInvoice(t, l, part.ID, invoice.StatusUnderpaid, 0, 100, 4900, 0)
		wantIPNs(t, l, nothing.SubscriptionID, "expired")
		wantIPNs(t, l, part.SubscriptionID, "new underpaid")
		if n, _, err := l.ExpireInvoices(ctx); err != nil || n != 0 {
			t.Fatalf("a second pass expired %d, %v", n, err)
		}
		clock.add(time.Minute)
		mempool(t, l, "late1", "addrNothing", 5000)
		wantInvoice(t, l, nothing.ID, invoice.StatusLate, 0, 5000, 0, 0)
		wantIPNs(t, l, nothing.SubscriptionID, "expired late")
	})
}

// A payment first seen after expires_at, before the expiry pass ran: the
// chain write itself decides late.
func TestInvoiceLateBeforeTheExpiryPass(t *testing.T) {
	invoiceLedgers(t, func(t *testing.T, l *db.Ledger, clock *testClock) {
		if err := l.SetStart(ctx, chains.BTC, blk(100)); err != nil {
			t.Fatal(err)
		}
		inv := newInvoice(t, l, "addrLate", 0, 5000, 1, "", false)
		clock.set(inv.ExpiresAt.Add(time.Second))
		mempool(t, l, "late", "addrLate", 5000)
		wantInvoice(t, l, inv.ID, invoice.StatusLate, 0, 5000, 0, 0)
		wantIPNs(t, l, inv.SubscriptionID, "late")
	})
}

// A reorg that takes the paying transaction away (a double spend mined in
// the new branch) reverses a paid invoice, in the reorg's one transaction.
func TestInvoiceReversedByReorg(t *testing.T) {
	invoiceLedgers(t, func(t *testing.T, l *db.Ledger, clock *testClock) {
		if err := l.SetStart(ctx, chains.BTC, blk(100)); err != nil {
			t.Fatal(err)
		}
		inv := newInvoice(t, l, "addrRev", 0, 5000, 1, "", false)
		clock.add(time.Second)
		block(t, l, 101, chains.Payment{TxID: "pay", Address: "addrRev", Amount: 5000})
		wantInvoice(t, l, inv.ID, invoice.StatusPaid, 5000, 0, 0, 0)
		_, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{
			Disconnect: []chains.Block{blk(101)}, Ancestor: blk(100),
			Connect: []chains.BlockPayments{{Block: fork(101)}, {Block: fork(102)}},
			Gone:    []chains.Gone{{TxID: "pay", Reason: chains.ReasonDoubleSpend}},
		})
		if err != nil {
			t.Fatal(err)
		}
		wantInvoice(t, l, inv.ID, invoice.StatusReversed, 0, 0, 5000, 0)
		wantIPNs(t, l, inv.SubscriptionID, "paid reversed")
		// A reorg that puts it back in the mempool: paid → processing, not
		// reversed (the money is still coming).
		inv2 := newInvoice(t, l, "addrBack", 1, 5000, 1, "", false)
		block(t, l, 103, chains.Payment{TxID: "pay2", Address: "addrBack", Amount: 5000})
		wantInvoice(t, l, inv2.ID, invoice.StatusPaid, 5000, 0, 0, 0)
		if _, err := revertBlock(l, chains.BTC, blk(103), fork(102), []string{"pay2"}); err != nil {
			t.Fatal(err)
		}
		wantInvoice(t, l, inv2.ID, invoice.StatusProcessing, 0, 5000, 0, 0)
	})
}

// Cancel: only a new invoice with nothing received; a transition with its
// IPN; again is a no-op; a paid one is refused.
func TestInvoiceCancel(t *testing.T) {
	invoiceLedgers(t, func(t *testing.T, l *db.Ledger, clock *testClock) {
		if err := l.SetStart(ctx, chains.BTC, blk(100)); err != nil {
			t.Fatal(err)
		}
		inv := newInvoice(t, l, "addrCancel", 0, 5000, 1, "", false)
		got, err := l.CancelInvoice(ctx, inv.ID)
		if err != nil || got.Status != invoice.StatusCancelled {
			t.Fatalf("CancelInvoice: %s, %v", got.Status, err)
		}
		if got, err = l.CancelInvoice(ctx, inv.ID); err != nil || got.Status != invoice.StatusCancelled {
			t.Fatalf("CancelInvoice again: %s, %v", got.Status, err)
		}
		wantIPNs(t, l, inv.SubscriptionID, "cancelled")
		paid := newInvoice(t, l, "addrNoCancel", 1, 5000, 1, "", false)
		clock.add(time.Second)
		mempool(t, l, "c1", "addrNoCancel", 1)
		if got, err = l.CancelInvoice(ctx, paid.ID); !errors.Is(err, invoice.ErrNotCancellable) || got.Status != invoice.StatusNew {
			t.Fatalf("CancelInvoice with a payment seen: %s, %v", got.Status, err)
		}
		if _, err := l.CancelInvoice(ctx, invoice.NewID()); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("CancelInvoice of an unknown id: %v", err)
		}
	})
}

// Concurrent creations with one order id make one invoice; every caller
// gets it.
func TestInvoiceOrderIDIsIdempotent(t *testing.T) {
	invoiceLedgers(t, func(t *testing.T, l *db.Ledger, clock *testClock) {
		const n = 20
		p := invoice.Params{Chain: chains.BTC, AmountAtomic: 5000, ExpiresIn: time.Hour, MaxConfirms: 1, OrderID: "shop-order-77"}
		for i := range n {
			mustAddr(t, l, chains.BTC, fmt.Sprintf("addrOrder%d", i), uint32(i))
		}
		ids := make([]string, n)
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inv, _, c, err := l.CreateInvoice(ctx, p, invoice.NewID(), fmt.Sprintf("addrOrder%d", i),
					&ledger.Subscription{URL: invoiceShopURL, Secret: "ipnsec_x"})
				ids[i], created[i], errs[i] = inv.ID, c, err
			}()
		}
		wg.Wait()
		made := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("CreateInvoice %d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("order id gave two invoices: %s and %s", ids[0], ids[i])
			}
			if created[i] {
				made++
			}
		}
		page, err := l.ListInvoices(ctx, ledger.InvoiceQuery{OrderID: "shop-order-77", Cursor: ledger.Cursor{Limit: 10}})
		if err != nil || made != 1 || len(page.Items) != 1 {
			t.Fatalf("%d created, %d listed (%v); want 1", made, len(page.Items), err)
		}
		got, err := l.InvoiceByOrderID(ctx, "shop-order-77")
		if err != nil || got.ID != ids[0] {
			t.Fatalf("InvoiceByOrderID: %v, %v", got.ID, err)
		}
		// Order ids compare byte for byte.
		if _, err := l.InvoiceByOrderID(ctx, "SHOP-ORDER-77"); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("an order id in another case found an invoice: %v", err)
		}
	})
}

// Lists are newest first, by status, one page at a time.
func TestInvoicesList(t *testing.T) {
	invoiceLedgers(t, func(t *testing.T, l *db.Ledger, clock *testClock) {
		var made []invoice.Invoice
		for i := range 5 {
			made = append(made, newInvoice(t, l, fmt.Sprintf("addrList%d", i), uint32(i), 100, 1, "", true))
		}
		if _, err := l.CancelInvoice(ctx, made[1].ID); err != nil {
			t.Fatal(err)
		}
		var got []string
		q := ledger.InvoiceQuery{Status: invoice.StatusNew, Cursor: ledger.Cursor{Limit: 2}}
		for pages := 0; ; pages++ {
			page, err := l.ListInvoices(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, inv := range page.Items {
				got = append(got, inv.ID)
			}
			if page.Next == "" {
				break
			}
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			q.After = page.Next
		}
		want := []string{made[4].ID, made[3].ID, made[2].ID, made[0].ID}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("new invoices listed %v, want %v", got, want)
		}
		if _, err := l.ListInvoices(ctx, ledger.InvoiceQuery{Cursor: ledger.Cursor{After: "x1", Limit: 2}}); !errors.Is(err, ledger.ErrInvalidCursor) {
			t.Fatalf("a bad cursor: %v", err)
		}
	})
}

// The ledger is the console's invoice store: its list with the console's
// types, newest first, a foreign cursor refused as the console expects.
func TestConsoleInvoiceStore(t *testing.T) {
	var _ console.InvoiceStore = (*db.Ledger)(nil)
	invoiceLedgers(t, func(t *testing.T, l *db.Ledger, clock *testClock) {
		a := newInvoice(t, l, "addrConsole0", 0, 100, 1, "shop-1", true)
		b := newInvoice(t, l, "addrConsole1", 1, 100, 1, "", true)
		page, err := l.ListInvoices(ctx, console.InvoiceQuery{Cursor: console.Cursor{Limit: 1}})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != b.ID || page.Next == "" {
			t.Fatalf("first page %+v, %v", page, err)
		}
		page, err = l.ListInvoices(ctx, console.InvoiceQuery{Cursor: console.Cursor{After: page.Next, Limit: 1}})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != a.ID || page.Next != "" {
			t.Fatalf("second page %+v, %v", page, err)
		}
		page, err = l.ListInvoices(ctx, console.InvoiceQuery{OrderID: "shop-1", Status: invoice.StatusNew, Cursor: console.Cursor{Limit: 10}})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != a.ID {
			t.Fatalf("by order id %+v, %v", page, err)
		}
		if _, err := l.ListInvoices(ctx, console.InvoiceQuery{Cursor: console.Cursor{After: "nope", Limit: 1}}); !errors.Is(err, console.ErrInvalidCursor) {
			t.Fatalf("a foreign cursor: %v", err)
		}
	})
}
