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
package ledger
