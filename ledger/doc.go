// Package ledger is the records ipnd keeps; package db stores them in SQL.
//
// A chain adapter reports what its node shows (chains.Block,
// chains.Payment); one ledger transaction turns that into Deposits, moves
// the chain's tip and, for every Subscription whose totals changed, creates
// a Notification whose body is rendered once (PayloadBuilder). The IPN
// worker delivers notifications and records each Attempt; the API reads
// Totals and Deposits.
//
// This package holds the types, the confirmation rule (Deposit.IsConfirmed,
// SumTotals) and the errors consumers test with errors.Is. It has no
// storage: consumers define the interfaces they need and *db.Ledger
// implements them.
//
// # Reasons: the chain-write contract
//
// Every notification lists the deposits whose standing changed for its
// subscription (DepositChange: none, unconfirmed or confirmed, as
// Deposit.CountsAs says) with a reason. Upward moves are the ledger's to
// name: from none it is ReasonSeen, to confirmed ReasonConfirmed. Downward
// moves need what only the chain side knows, so the chain writes of
// *db.Ledger take it as input, as chains.Gone{TxID, Reason} values with a
// chains.Reason:
//
//   - chains.ReasonDoubleSpend: a conflicting transaction spending the same
//     inputs was mined (the block follower sees the conflict in the block
//     it connects);
//   - chains.ReasonReplaced: a conflicting transaction replaced it in the
//     mempool (BIP125 or full RBF: the node's mempool holds the
//     replacement);
//   - chains.ReasonDropped: it left the mempool without a known conflict
//     (expiry, eviction, a node restart);
//   - chains.ReasonReorg: its block left the best chain.
//
// The writes:
//
//   - ApplyChainUpdate (Bitcoin-family chains, one transaction for a whole
//     chain change): the deposits of Disconnect's blocks are ReasonReorg,
//     unless u.Gone names their transaction (a reorg whose new branch mines
//     a conflict: double_spend); u.Gone's unconfirmed deposits take
//     their Gone's reason. A deposit that falls below max_confirms because
//     the tip went down, or that is mined at another height in the new
//     branch, is ReasonReorg.
//   - ReconcileWindow(ctx, chain, tip, fromHeight, seen): a deposit that
//     it finds missing from seen is ReasonDropped when it was in the pool
//     and ReasonReorg when it was in a block, and a seen payment flagged
//     DoubleSpend is ReasonDoubleSpend.
//
// An empty or unknown Reason is the write's default (dropped for a gone
// transaction, reorg for a disconnected block). Within one write the latest
// explicit reason given for a deposit wins. The reason is kept on the
// deposit (Deposit.Reason, /balance) and carried in the IPN body's changes;
// the acknowledgement (the echo) stays address, confirmed and unconfirmed.
package ledger
