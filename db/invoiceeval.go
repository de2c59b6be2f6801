package db

// Invoice states in the ledger: every chain write re-evaluates the
// invoices its change can move (invoice.Evaluate), in its own transaction,
// before it makes the notifications; the expiry does the same at
// expires_at, one invoice per transaction. A transition makes one
// notification of the invoice's subscription (forced even when the
// address's totals did not move); every notification of that subscription
// carries the invoice's block (ledger.NotificationData.Invoice).

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ledger"
)

// evaluateFunc computes an invoice's next state from its deposits at now.
type evaluateFunc func(inv invoice.Invoice, ds []invoice.Deposit, now time.Time) (invoice.Evaluation, error)

// evaluateInvoice locks the invoice where says, reads its address's
// deposits and the chain tip, reads now (after the lock), applies eval and
// writes the invoice back when it changed. It makes no notification: the
// caller does (notifyTransition, or the chain write's notify).
func (l *Ledger) evaluateInvoice(ctx context.Context, tx *sql.Tx, where string, args []any, eval evaluateFunc) (invoice.Evaluation, error) {
	var seq, addressID int64
	if err := tx.QueryRowContext(ctx, `SELECT i.id, i.address_id FROM invoices i WHERE `+where+l.dialect.forUpdate, args...).
		Scan(&seq, &addressID); err != nil {
		return invoice.Evaluation{}, notFound(err, "invoice")
	}
	inv, _, err := invoiceBy(ctx, tx, `i.id = ?`, seq)
	if err != nil {
		return invoice.Evaluation{}, err
	}
	tip, _, err := tipOf(ctx, tx, inv.Chain)
	if err != nil {
		return invoice.Evaluation{}, err
	}
	ds, err := queryDeposits(ctx, tx, `d.address_id = ?`, addressID)
	if err != nil {
		return invoice.Evaluation{}, err
	}
	now := l.now()
	ev, err := eval(inv, invoiceDeposits(ds, tip.Height, inv.MaxConfirms, now), now)
	if err != nil {
		return invoice.Evaluation{}, err
	}
	if !ev.Changed {
		return ev, nil
	}
	next := ev.Invoice
	if l.dialect.name == "sqlite" && (next.PaidAtomic > invoice.MaxAmountAtomic || next.PendingAtomic > invoice.MaxAmountAtomic) {
		return invoice.Evaluation{}, fmt.Errorf("invoice %s: amounts received exceed what the SQLite ledger can hold; use MySQL", inv.ID)
	}
	next.UpdatedAt = fromMicros(micros(now))
	if _, err := tx.ExecContext(ctx, `UPDATE invoices SET status = ?, paid = ?, pending = ?, due = ?, excess = ?, updated_at = ? WHERE id = ?`,
		string(next.Status), next.PaidAtomic, next.PendingAtomic, next.DueAtomic, next.ExcessAtomic, micros(now), seq); err != nil {
		return invoice.Evaluation{}, fmt.Errorf("update invoice %s: %w", inv.ID, err)
	}
	ev.Invoice = next
	if ev.Transition {
		l.log.Info("invoice status changed", "invoice", inv.ID, "chain", inv.Chain, "from", ev.From, "to", next.Status,
			"paid", next.PaidAtomic, "pending", next.PendingAtomic, "due", next.DueAtomic)
	}
	return ev, nil
}

// evaluateLogged is invoice.Evaluate that never fails: odd chain data
// (sums beyond uint64) or a corrupt invoice row must not stall a chain or
// the expiry of other invoices, so the invoice is left as it is and the
// error logged.
func (l *Ledger) evaluateLogged(inv invoice.Invoice, ds []invoice.Deposit, now time.Time) (invoice.Evaluation, error) {
	ev, err := invoice.Evaluate(inv, ds, now)
	if err != nil {
		l.log.Error("invoice can not be evaluated; it is left as it is", "invoice", inv.ID, "chain", inv.Chain, "err", err)
		return invoice.Evaluation{Invoice: inv, From: inv.Status}, nil
	}
	return ev, nil
}

// invoiceDeposits is what invoice.Evaluate needs of an address's deposits:
// live as the ledger counts them, confirmed under the invoice's
// max_confirms at tip, and why a lost one was lost.
func invoiceDeposits(ds []ledger.Deposit, tip int64, maxConfirms int, now time.Time) []invoice.Deposit {
	out := make([]invoice.Deposit, len(ds))
	for i, d := range ds {
		out[i] = invoice.Deposit{Amount: d.Amount, FirstSeen: d.FirstSeen, Live: d.Counts(),
			Confirmed: d.IsConfirmed(tip, maxConfirms, now), Lost: lossOf(d)}
	}
	return out
}

// lossOf maps a deposit that stopped counting to the invoice's loss
// reason, from the reason the chain write gave (ledger's reasons contract).
func lossOf(d ledger.Deposit) invoice.LossReason {
	if d.Counts() {
		return invoice.LossNone
	}
	switch d.Reason {
	case ledger.ReasonDoubleSpend:
		return invoice.LossDoubleSpend
	case ledger.ReasonReplaced:
		return invoice.LossReplaced
	case ledger.ReasonDropped:
		return invoice.LossDropped
	case ledger.ReasonReorg:
		return invoice.LossReorg
	}
	if d.Status == ledger.StatusDoubleSpend {
		return invoice.LossDoubleSpend
	}
	return invoice.LossReorg // a deposit recorded before reasons
}

// notifyTransition makes the notification of a transition outside a chain
// write (expiry, cancel): one for the invoice's subscription, if it is
// active.
func (l *Ledger) notifyTransition(ctx context.Context, tx *sql.Tx, ev invoice.Evaluation) error {
	if !ev.Transition || ev.Invoice.SubscriptionID == 0 {
		return nil
	}
	var active bool
	if err := tx.QueryRowContext(ctx, `SELECT active FROM subscriptions WHERE id = ?`, ev.Invoice.SubscriptionID).Scan(&active); err != nil {
		return fmt.Errorf("invoice %s: read its subscription: %w", ev.Invoice.ID, err)
	}
	if !active {
		return nil
	}
	_, _, err := l.refresh(ctx, tx, ev.Invoice.SubscriptionID, refreshMode{force: true})
	return err
}

// invoiceNotice is the IPN block of the invoice a subscription was made
// for, as of tx (nil when there is none).
func invoiceNotice(ctx context.Context, tx *sql.Tx, subscriptionID int64) (*invoice.Notice, error) {
	inv, _, err := invoiceBy(ctx, tx, `i.subscription_id = ?`, subscriptionID)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	n := inv.Notice()
	return &n, nil
}

// invoices re-evaluates, in the chain write, every invoice on an address
// whose deposits changed and every invoice with a deposit that crossed its
// max_confirms (or whose unlock time may have passed) as the tip moved;
// the subscription of each invoice that changed status is forced to get a
// notification.
func (w *chainWrite) invoices() error {
	ids := map[int64]bool{}
	collect := func(query string, args ...any) error {
		rows, err := w.tx.QueryContext(w.ctx, query, args...)
		if err != nil {
			return fmt.Errorf("find invoices to evaluate: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids[id] = true
		}
		return rows.Err()
	}
	touched := make([]any, 0, len(w.touched))
	for id := range w.touched {
		touched = append(touched, id)
	}
	for start := 0; start < len(touched); start += 500 {
		chunk := touched[start:min(start+500, len(touched))]
		if err := collect(`SELECT id FROM invoices WHERE address_id IN (`+placeholders(len(chunk))+`)`, chunk...); err != nil {
			return err
		}
	}
	oldTip, newTip := w.oldTip.Height, w.newTip.Height
	if lo, hi := min(oldTip, newTip), max(oldTip, newTip); lo != hi {
		// As for subscriptions (notify): a deposit at height h reaches m
		// confirmations at tip h+m-1.
		if err := collect(`SELECT DISTINCT i.id FROM invoices i JOIN deposits d ON d.address_id = i.address_id
  WHERE i.chain = ? AND d.chain = ? AND d.status = ? AND d.height > ? AND d.height <= ?
  AND d.height + i.max_confirms - 1 > ? AND d.height + i.max_confirms - 1 <= ?`,
			string(w.chain), string(w.chain), ledger.StatusConfirmed, lo-ledger.MaxConfirmsLimit, hi+1, lo, hi); err != nil {
			return err
		}
	}
	now := w.l.now().Unix()
	lo, hi := min(oldTip, newTip), max(oldTip, newTip)
	if err := collect(`SELECT DISTINCT i.id FROM invoices i JOIN deposits d ON d.address_id = i.address_id
  WHERE i.chain = ? AND d.chain = ? AND d.status = ? AND d.unlock_time > 0
  AND ((d.unlock_time > ? AND d.unlock_time <= ?) OR (d.unlock_time >= ? AND d.unlock_time > ? AND d.unlock_time <= ?))`,
		string(w.chain), string(w.chain), ledger.StatusConfirmed, lo+1, min(hi+1, ledger.UnlockHeightLimit-1),
		ledger.UnlockHeightLimit, now-86400, now); err != nil {
		return err
	}
	sorted := make([]int64, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, id := range sorted {
		ev, err := w.l.evaluateInvoice(w.ctx, w.tx, `i.id = ?`, []any{id}, w.l.evaluateLogged)
		if err != nil {
			return err
		}
		if ev.Transition && ev.Invoice.SubscriptionID != 0 {
			w.forced[ev.Invoice.SubscriptionID] = true
		}
	}
	return nil
}
