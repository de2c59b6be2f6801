package chainsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipnd/ipnd/chains"
)

// handleReorg checks that the ledger's tip is on the node's best chain. If
// not, it walks back through the remembered blocks to the common ancestor,
// reads the node's new branch above it (up to ReorgDepth blocks) and
// writes the disconnects and the connects in one ledger transaction, so a
// payment that is in both branches never shows as unconfirmed or gone.
// reorged is true when it wrote, or when the node's chain moved while the
// branch was read (the caller looks again).
func (f *BlockFollower) handleReorg(ctx context.Context, tip chains.Block, nodeHeight int64) (reorged bool, err error) {
	if tip.Height <= nodeHeight {
		h, err := f.src.BlockHash(ctx, tip.Height)
		if err != nil && !errors.Is(err, ErrNoBlock) {
			return false, err
		}
		if h == tip.Hash {
			return false, nil
		}
	}
	recent, err := f.ledger.RecentBlocks(ctx, f.cfg.Chain, f.cfg.ReorgDepth)
	if err != nil {
		return false, err
	}
	if tip.Height > nodeHeight {
		// A shorter node chain is a reorg only if it ends in a block we
		// processed (invalidateblock, a switch to a shorter chain with more
		// work); otherwise the node is syncing or lost its chain: wait.
		h, err := f.src.BlockHash(ctx, nodeHeight)
		if err != nil {
			return false, err
		}
		ours := false
		for _, b := range recent {
			ours = ours || (b.Height == nodeHeight && b.Hash == h)
		}
		if !ours {
			return false, fmt.Errorf("%w: node at height %d, ledger at %d; waiting for the node", ErrNodeBehind, nodeHeight, tip.Height)
		}
	}
	anc, err := CommonAncestor(ctx, recent, nodeHeight, f.src.BlockHash)
	if err != nil {
		return false, err
	}
	if anc < 0 {
		return false, fmt.Errorf("%w (%d): none of them is on the node's best chain; check the node and %s.network",
			ErrDeepReorg, len(recent), f.cfg.Section)
	}
	if anc == 0 {
		return false, nil // the tip is on the node's chain after all (it moved meanwhile)
	}
	disconnect, ancestor := recent[:anc], recent[anc]
	for i, b := range disconnect {
		parent := ancestor
		if i+1 < len(disconnect) {
			parent = disconnect[i+1]
		}
		if parent.Height != b.Height-1 {
			return false, fmt.Errorf("%w: the ledger's remembered blocks have a gap at %d", ErrDeepReorg, parent.Height)
		}
	}
	u := chains.ChainUpdate{Disconnect: disconnect, Ancestor: ancestor}
	parent := ancestor.Hash
	for h := ancestor.Height + 1; h <= nodeHeight && len(u.Connect) < f.cfg.ReorgDepth; h++ {
		bp, conflicts, ok, err := f.scan(ctx, h, parent)
		if err != nil {
			return false, err
		}
		if !ok {
			return true, nil // the node's chain moved again: start over
		}
		u.Connect = append(u.Connect, bp)
		u.Gone = append(u.Gone, conflicts...)
		parent = bp.Block.Hash
	}
	if u.InMempool, err = f.src.InMempool(ctx); err != nil {
		return false, err
	}
	f.log.Warn("reorganisation", "from_height", tip.Height, "common_ancestor", ancestor.Height,
		"disconnected", len(disconnect), "connected", len(u.Connect))
	ch, err := f.Record(ctx, u)
	if err != nil {
		return false, fmt.Errorf("record reorganisation at %d: %w", ancestor.Height, err)
	}
	f.log.Warn("reorganisation recorded", "tip", f.tip.Height, "hash", f.tip.Hash,
		"deposits_updated", ch.DepositsUpdated, "deposits_orphaned", ch.DepositsRemoved, "notifications", ch.Notifications)
	f.loop.SetHeight(f.tip.Height)
	return true, nil
}
