// Package chains is the vocabulary every chain adapter and its consumers
// share: chain identifiers and the table describing each chain (Spec), what
// a chain observes and adapters exchange (Block, Address, Payment, Change),
// the sync status a watcher reports, and the exact conversion between
// integer atomic units and decimal coin strings.
//
// Amounts are uint64 atomic units (satoshi, piconero) everywhere; decimal
// strings exist only at the edges (API answers, IPN bodies) and are produced
// and parsed here without any floating point.
//
// Adding a chain starts with one row in the Spec table; its adapter (a
// package below chains/) implements the API's chain view and feeds the
// ledger through package chainsync.
package chains
