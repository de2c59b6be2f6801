package chainsync

import (
	"context"

	"github.com/ipnd/ipnd/chains"
)

// WindowLedger is what a windowed reconcile needs of the ledger
// (*db.Ledger).
type WindowLedger interface {
	ReconcileWindow(ctx context.Context, c chains.Chain, tip chains.Block, fromHeight int64, seen []chains.Payment) (chains.Change, error)
}

// Window records a windowed chain's reconciles (Monero: see the package
// documentation for why it has no per-block events).
type Window struct {
	Chain  chains.Chain
	Ledger WindowLedger
	Hooks  Hooks
}

// Reconcile records what the wallet reports in the pool and above
// fromHeight, with tip as the chain's tip, in one ledger transaction
// (*db.Ledger.ReconcileWindow).
func (w Window) Reconcile(ctx context.Context, tip chains.Block, fromHeight int64, seen []chains.Payment) (chains.Change, error) {
	ch, err := w.Ledger.ReconcileWindow(ctx, w.Chain, tip, fromHeight, seen)
	return w.Hooks.wrote(w.Chain, ch, err)
}

// Advanced counts n blocks that the window's writes moved the tip forward
// (the metrics' blocks processed); a windowed watcher calls it after a
// successful Reconcile.
func (w Window) Advanced(n int) { w.Hooks.blocksApplied(w.Chain, n) }

// Reorged counts a reorganisation the windowed watcher found, depth blocks
// of the ledger's chain deep (its recorded tip's height minus the fork
// point's).
func (w Window) Reorged(depth int) { w.Hooks.reorg(w.Chain, depth) }
