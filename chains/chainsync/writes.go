package chainsync

import (
	"context"

	"github.com/ipnd/ipnd/chains"
)

// The chain writes: every ledger transaction a chain event causes goes
// through one of these, so the metrics count it and the in-process IPN
// worker hears of the notifications it made.

func (f *BlockFollower) applyBlock(ctx context.Context, b chains.Block, ps []chains.Payment) (chains.Change, error) {
	ch, err := f.ledger.ApplyBlock(ctx, f.cfg.Chain, b, ps)
	if err == nil {
		f.cfg.Hooks.blocksApplied(f.cfg.Chain, 1)
	}
	return f.cfg.Hooks.wrote(f.cfg.Chain, ch, err)
}

func (f *BlockFollower) revertBlock(ctx context.Context, b, parent chains.Block, stillInMempool []string) (chains.Change, error) {
	ch, err := f.ledger.RevertBlock(ctx, f.cfg.Chain, b, parent, stillInMempool)
	if err == nil {
		f.cfg.Hooks.reorg(f.cfg.Chain)
	}
	return f.cfg.Hooks.wrote(f.cfg.Chain, ch, err)
}

func (f *BlockFollower) applyMempool(ctx context.Context, added []chains.Payment, gone []string) (chains.Change, error) {
	ch, err := f.ledger.ApplyMempool(ctx, f.cfg.Chain, added, gone)
	return f.cfg.Hooks.wrote(f.cfg.Chain, ch, err)
}

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
