// Package invoice is the pure core of ipnd's invoices: the invoice record,
// its state machine, the validation of creation input and the QR codes of
// payment URIs. It does no I/O and never reads a clock: the time is an
// argument, so the ledger can evaluate an invoice inside the same
// transaction as the chain change or the expiry that moves it.
//
// # Amounts
//
// An invoice asks for AmountAtomic (> 0) on one chain at one fresh address.
// Evaluate computes, from the address's deposits as the ledger sees them:
//
//   - PaidAtomic: live deposits confirmed under the invoice's confirmation
//     rule (its max_confirms, as ledger's Deposit.IsConfirmed applies it);
//   - PendingAtomic: the other live deposits;
//   - DueAtomic = max(AmountAtomic - PaidAtomic - PendingAtomic, 0);
//   - ExcessAtomic = PaidAtomic - AmountAtomic when PaidAtomic exceeds the
//     amount, else 0 (an unconfirmed surplus is not excess yet).
//
// Every live deposit first seen at or after CreatedAt is in these sums, late
// ones included: they say what the address received. A deposit first seen
// before CreatedAt is not this invoice's (addresses are fresh; this guards
// against an address handed out twice) and is ignored. Sums are checked:
// an overflow is an error, never a wrap.
//
// # States
//
// A deposit is on time when it was first seen before ExpiresAt; it keeps
// counting when it confirms after ExpiresAt. The invoice is covered when its
// on-time live deposits (confirmed or not) add up to at least the amount.
// The status is then decided, in this order:
//
//  1. cancelled stays cancelled (the only terminal state; amounts still
//     follow the address so the merchant sees a payment to it).
//  2. Covered: paid when PaidAtomic ≥ AmountAtomic (overpaid when
//     ExcessAtomic > 0), else processing. Once covered, late deposits count
//     toward PaidAtomic like any other: they only add money.
//  3. Not covered, after having been processing, paid, overpaid or
//     reversed: reversed. A reorg, double spend, drop or replacement took
//     the covering payment away; Evaluation.Reason says which.
//  4. Not covered, not expired: new (a partial payment shows in the
//     amounts; DueAtomic says what is still due).
//  5. Not covered, expired: late when a live deposit was first seen at or
//     after ExpiresAt (the merchant decides), else underpaid when on-time
//     deposits are live, else expired.
//
// The invoice is expired when now ≥ ExpiresAt, when a live deposit was
// first seen at or after ExpiresAt (it proves the time passed), or when its
// status already says so (expired, underpaid, late): time never reopens an
// invoice. One nanosecond before ExpiresAt an invoice with nothing is still
// new; at ExpiresAt it is expired.
//
// # Transitions
//
// Every transition makes exactly one IPN (Evaluation.Transition); an
// evaluation that leaves the status as it was makes none, even when the
// amounts moved (the address's totals IPN already carries those). All the
// moves there are, with their cause:
//
//	new        -> processing  on-time deposits cover the amount, not all confirmed
//	new        -> paid        they cover it confirmed (seen first in a block, or max_confirms 0)
//	new        -> overpaid    the same with more than the amount confirmed
//	new        -> expired     ExpiresAt reached with nothing received
//	new        -> underpaid   ExpiresAt reached with a partial on-time payment
//	new        -> late        a deposit first seen at or after ExpiresAt (not covered)
//	new        -> cancelled   Cancel, with nothing received
//	processing -> paid        the covering deposits confirmed (overpaid: with excess)
//	processing -> reversed    a covering deposit lost (reorg, double spend, dropped, replaced)
//	paid       -> overpaid    an extra payment confirmed (on time or late)
//	overpaid   -> paid        the extra payment lost
//	paid       -> processing  a reorg took confirmations; the deposits are live again unconfirmed
//	paid       -> reversed    a covering deposit lost (overpaid: the same)
//	reversed   -> processing  cover back: re-mined, back in the mempool, or an on-time top-up
//	reversed   -> paid        cover back, confirmed (overpaid: with excess)
//	expired    -> late        a late deposit
//	expired    -> underpaid   an on-time deposit live again (re-mined)
//	underpaid  -> late        a late deposit (a top-up after ExpiresAt)
//	underpaid  -> expired     the partial payment lost
//	late       -> underpaid   every late deposit lost, on-time ones remain
//	late       -> expired     every live deposit lost, late and on-time
//	expired, underpaid, late -> processing or paid/overpaid: on-time deposits cover again
//
// Nothing leaves cancelled. processing survives ExpiresAt (a payment seen in
// time counts when it confirms later) and late deposits; reversed survives
// ExpiresAt and late deposits too.
//
// Decisions a merchant may ask about:
//
//   - underpaid becomes processing or paid when on-time deposits come to
//     cover the amount: a top-up first seen before ExpiresAt that was dropped
//     or reorged out and is re-mined later still counts. A top-up first seen
//     after ExpiresAt makes the invoice late instead: the merchant decides.
//   - reversed returns to processing or paid when the covering transaction
//     is re-mined (the ledger keeps a deposit's first_seen when it comes
//     back), or, before ExpiresAt, when the customer pays again. Otherwise
//     it stays reversed: expiry and late deposits do not move it, the
//     merchant already has to act and the amounts show what arrived.
//   - paid goes back to processing, not to reversed, when a reorg takes its
//     confirmations but the transaction is back in the mempool: the money
//     is still coming.
//   - late, underpaid and expired describe what the address holds after
//     expiry and follow the deposits both ways (a late payment that is
//     double-spent turns late back into underpaid or expired).
//   - Only new changes by time alone: at ExpiresAt it
//     becomes expired, underpaid or late.
//   - Creating an invoice makes no IPN; cancelling one does (new ->
//     cancelled is a transition).
//
// # Integration
//
// The ledger calls Evaluate for every invoice on an address whose deposits
// changed, in the same transaction, with the transaction's time; it writes
// the invoice back when Evaluation.Changed and creates one notification
// (with the Notice block) per subscription when Evaluation.Transition or
// when the address's totals changed. It runs the expiry of a new invoice at ExpiresAt in
// a transaction of its own, which reads now after locking the invoice row.
package invoice
