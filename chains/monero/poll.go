package monero

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/ledger"
)

// pollWallet runs one wallet poll: the daemon's state (info when the
// caller has just read it); a wallet refresh when the daemon's height moved
// (or the wallet is behind it); get_transfers of the account (in and pool)
// above the last scanned height minus the reorg window; and one ledger
// write reconciling that window. Its cost depends on the window, not on the
// wallet's history.
func (w *Watcher) pollWallet(ctx context.Context, info *Info) error {
	var err error
	for try := 0; try < 3; try++ {
		var moved bool
		moved, err = w.poll(ctx, info)
		if err != nil || !moved {
			break
		}
		// The chain moved during the poll: what the wallet said may mix two
		// tips; read again rather than record a blend.
		info = nil
	}
	return err
}

// getInfo reads monerod's state and checks its heights.
func (w *Watcher) getInfo(ctx context.Context) (Info, error) {
	info, err := w.daemon.GetInfo(ctx)
	if err != nil {
		return Info{}, fmt.Errorf("monerod: %w", err)
	}
	if info.Height < 1 || info.TopBlockHash == "" {
		return Info{}, fmt.Errorf("monerod get_info: no chain yet (height %d)", info.Height)
	}
	if info.Height > maxHeight || info.TargetHeight < 0 {
		return Info{}, fmt.Errorf("monerod get_info: height %d, target height %d out of range", info.Height, info.TargetHeight)
	}
	if info.TargetHeight > maxHeight {
		info.TargetHeight = 0 // not believed; the height is
	}
	return info, nil
}

// poll returns moved=true when the daemon's tip changed while polling (the
// caller polls again). first is monerod's state when the caller has just
// read it (getInfo).
func (w *Watcher) poll(ctx context.Context, first *Info) (moved bool, err error) {
	var info Info
	if first != nil {
		info = *first
	} else if info, err = w.getInfo(ctx); err != nil {
		return false, err
	}
	tip := chains.Block{Height: info.Height - 1, Hash: info.TopBlockHash}
	w.SetNodeHeight(max(info.TargetHeight, info.Height) - 1)

	wh, err := w.wallet.GetHeight(ctx)
	if err != nil {
		return false, fmt.Errorf("wallet: %w", err)
	}
	// A new block: the wallet scans it (refresh); this poll then reads only
	// the mined transfers and keeps the last poll's pool view (the wallet's
	// pool query costs ~40-90 ms), and an immediate second poll reads the
	// pool again. So a block's confirmations reach the ledger one pool query
	// sooner; a pool transaction the block displaced is seen gone by the
	// second poll.
	quick := false
	if info.Height != w.refreshedAt || wh < info.Height {
		quick = w.poolKnown && w.refreshedAt > 0
		if _, err := w.wallet.Refresh(ctx); err != nil {
			return false, fmt.Errorf("wallet refresh: %w", err)
		}
		if wh, err = w.wallet.GetHeight(ctx); err != nil {
			return false, fmt.Errorf("wallet: %w", err)
		}
	}
	if wh < info.Height {
		return false, fmt.Errorf("%w: wallet at height %d, daemon at %d", ErrWalletBehind, wh, info.Height)
	}
	w.refreshedAt = info.Height

	stored, hadTip, err := w.ledger.Tip(ctx, chains.XMR)
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	from, depth, err := w.windowStart(ctx, tip, stored, hadTip)
	if err != nil {
		return false, err
	}
	tr, err := w.wallet.GetTransfers(ctx, TransfersQuery{
		In: true, Pool: !quick, Account: w.cfg.Account,
		FilterByHeight: true, MinHeight: from, MaxHeight: maxHeight,
	})
	if err != nil {
		return false, fmt.Errorf("wallet get_transfers: %w", err)
	}
	after, err := w.getInfo(ctx)
	if err != nil {
		return false, err
	}
	if after.Height != info.Height || after.TopBlockHash != info.TopBlockHash {
		return true, nil
	}
	if err := w.book.update(ctx, w.ledger); err != nil {
		return false, err
	}
	payments, skips := w.payments(tr, tip)
	if quick {
		payments = withPool(payments, w.lastPool)
	}
	payments, more, err := w.checkTotals(ctx, payments)
	if err != nil {
		return false, err
	}
	skips = append(skips, more...)
	w.reportSkipped(skips)
	if payments, err = w.keepSkipped(ctx, tip, from, payments, skips); err != nil {
		return false, err
	}
	// Nothing moved since the last recorded poll (same tip, window and
	// transfers): the write would change nothing, skip it.
	if quick {
		defer func() {
			if err == nil && !moved {
				w.poolAgain.Store(true) // the second poll, with the pool
				w.Poke()
			}
		}()
	} else {
		w.lastPool, w.poolKnown = poolOf(payments), true
	}
	fp := fingerprint(tip, from, payments)
	if fp == w.lastWrite {
		w.polled(after)
		return false, nil
	}
	change, err := w.window.Reconcile(ctx, tip, from, payments)
	if err != nil {
		w.lastWrite = [32]byte{}
		return false, fmt.Errorf("ledger: %w", err)
	}
	w.lastWrite = fp
	if hadTip && tip.Height > stored.Height {
		w.window.Advanced(int(tip.Height - stored.Height))
	}
	if depth > 0 {
		w.window.Reorged(int(depth))
	}
	if change != (chains.Change{}) {
		w.log.Info("monero payments reconciled", "tip", tip.Height, "from_height", from, "seen", len(payments),
			"added", change.DepositsAdded, "updated", change.DepositsUpdated, "removed", change.DepositsRemoved,
			"notifications", change.Notifications)
	}
	w.polled(after)
	return false, nil
}

// polled records a successful wallet poll at monerod's state info.
func (w *Watcher) polled(info Info) {
	w.lastPolled = info
	w.setSynced(info)
}

// setSynced records a round that left the ledger at monerod's tip.
func (w *Watcher) setSynced(info Info) {
	tip, target := info.Height-1, max(info.TargetHeight, info.Height)-1
	w.SetStatus(func(s *chains.Status) { s.Height, s.NodeHeight = tip, target })
	note := ""
	if info.BusySyncing {
		note = "monerod is busy syncing"
	}
	w.RoundDone(info.BusySyncing || !info.Synchronized, note)
}

// fingerprint identifies what a ReconcileWindow call would write.
func fingerprint(tip chains.Block, from int64, ps []chains.Payment) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d %s %d\n", tip.Height, tip.Hash, from)
	for _, p := range ps {
		fmt.Fprintf(h, "%s %s %d %d %d %t\n", p.TxID, p.Address, p.Amount, p.Height, p.UnlockTime, p.DoubleSpend)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// poolOf is the pool payments of a poll.
func poolOf(ps []chains.Payment) []chains.Payment {
	var out []chains.Payment
	for _, p := range ps {
		if p.Height == 0 {
			out = append(out, p)
		}
	}
	return out
}

// withPool adds the pool payments of the last poll to mined ones, except
// those now mined (one per transaction and address).
func withPool(mined, pool []chains.Payment) []chains.Payment {
	if len(pool) == 0 {
		return mined
	}
	have := make(map[string]bool, len(mined))
	for _, p := range mined {
		have[p.TxID+" "+p.Address] = true
	}
	for _, p := range pool {
		if !have[p.TxID+" "+p.Address] {
			mined = append(mined, p)
		}
	}
	return mined
}

func isNotFound(err error) bool { return errors.Is(err, ledger.ErrNotFound) }

// windowStart is the exclusive min_height of this poll: the last scanned
// height minus the reorg window, lowered to the fork point when a block the
// ledger recorded is no longer on the daemon's chain (depth is then how
// many of the ledger's blocks the reorganisation replaced; 0 without one).
func (w *Watcher) windowStart(ctx context.Context, tip, stored chains.Block, hadTip bool) (from, depth int64, err error) {
	if !hadTip {
		return 0, 0, nil // first start: read the account's whole history once
	}
	from = min(stored.Height, tip.Height) - w.cfg.ReorgWindow
	if stored == tip {
		return max(from, 0), 0, nil
	}
	// Is the stored tip still on the chain? Usually one header call.
	recent, err := w.ledger.RecentBlocks(ctx, chains.XMR, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("ledger: %w", err)
	}
	// The daemon's hash at a height; its tip's is known already.
	hashAt := func(ctx context.Context, h int64) (string, error) {
		if h == tip.Height {
			return tip.Hash, nil
		}
		hdr, err := w.daemon.BlockHeaderByHeight(ctx, h)
		if err != nil {
			return "", fmt.Errorf("monerod: %w", err)
		}
		return hdr.Hash, nil
	}
	anc, err := chainsync.CommonAncestor(ctx, recent, tip.Height, hashAt)
	if err != nil {
		return 0, 0, err
	}
	fork := int64(-1)
	if anc >= 0 {
		fork = recent[anc].Height
	}
	if fork < 0 && len(recent) > 0 {
		fork = 0 // deeper than every recorded block: re-read everything once
		w.log.Warn("monero reorg deeper than the recorded blocks; re-reading the account's whole history",
			"stored_tip", stored.Height, "tip", tip.Height)
	}
	if fork >= 0 && fork < stored.Height {
		w.log.Warn("monero reorg", "fork_height", fork, "old_tip", stored.Height, "new_tip", tip.Height)
		from = min(from, fork)
		depth = stored.Height - fork
	}
	return max(from, 0), depth, nil
}
