package chainsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// BlockLedger is what the BlockFollower needs of the ledger (*db.Ledger).
type BlockLedger interface {
	Tip(ctx context.Context, c chains.Chain) (chains.Block, bool, error)
	RecentBlocks(ctx context.Context, c chains.Chain, n int) ([]chains.Block, error)
	SetStart(ctx context.Context, c chains.Chain, b chains.Block) error
	MempoolTxIDs(ctx context.Context, c chains.Chain) ([]string, error)
	ApplyBlock(ctx context.Context, c chains.Chain, b chains.Block, payments []chains.Payment) (chains.Change, error)
	RevertBlock(ctx context.Context, c chains.Chain, b, parent chains.Block, stillInMempool []string) (chains.Change, error)
	ApplyMempool(ctx context.Context, c chains.Chain, added []chains.Payment, gone []string) (chains.Change, error)
}

// FollowerConfig tunes a BlockFollower.
type FollowerConfig struct {
	Chain chains.Chain
	// Section is the chain's configuration section ("bitcoin"), named in
	// errors that point the operator at a setting.
	Section string
	// ReorgDepth is how many recent blocks are compared with the node when
	// looking for the common ancestor (default 200).
	ReorgDepth int
	// ProgressInterval between catch-up progress lines (default 5 s).
	ProgressInterval time.Duration
	Hooks            Hooks
	// Logger has the chain's subsystem attribute; nil discards.
	Logger *slog.Logger
}

// BlockFollower brings the ledger to a Bitcoin-family node's best chain and
// mempool: block connected, block disconnected and mempool transactions
// added or gone become ledger transactions (each one also writes the
// notifications it causes). It reports heights in loop's status. Its
// methods run on the loop's goroutine (one round at a time).
type BlockFollower struct {
	src    BlockSource
	ledger BlockLedger
	loop   *Loop
	cfg    FollowerConfig
	log    *slog.Logger

	prevPool   map[string]bool // the node's mempool at the last round
	lastProg   time.Time
	progHeight int64
}

// NewBlockFollower makes a follower of src for the chain whose rounds loop
// runs.
func NewBlockFollower(src BlockSource, ledger BlockLedger, loop *Loop, cfg FollowerConfig) *BlockFollower {
	if cfg.ReorgDepth <= 0 {
		cfg.ReorgDepth = 200
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &BlockFollower{src: src, ledger: ledger, loop: loop, cfg: cfg, log: log, prevPool: map[string]bool{}}
}

// Start returns the ledger's tip. At the very first start (no tip yet) it
// records the block scanning begins after: the node's tip, or the block
// below startHeight when that is set.
func (f *BlockFollower) Start(ctx context.Context, nodeTip chains.Block, startHeight int64) (chains.Block, error) {
	tip, ok, err := f.ledger.Tip(ctx, f.cfg.Chain)
	if err != nil || ok {
		return tip, err
	}
	start := nodeTip
	if startHeight > 0 {
		if startHeight-1 > nodeTip.Height {
			return chains.Block{}, fmt.Errorf("%w: %s.start_height %d is beyond the node's tip %d", ErrNodeBehind, f.cfg.Section, startHeight, nodeTip.Height)
		}
		h, err := f.src.BlockHash(ctx, startHeight-1)
		if err != nil {
			return chains.Block{}, err
		}
		start = chains.Block{Height: startHeight - 1, Hash: h}
	}
	if err := f.ledger.SetStart(ctx, f.cfg.Chain, start); err != nil {
		return chains.Block{}, err
	}
	f.log.Info("first start: scanning from the block after", "height", start.Height, "hash", start.Hash)
	return start, nil
}

// SyncBlocks brings the ledger to the node's best chain: reorgs first,
// then every missing block, each in its own ledger transaction.
func (f *BlockFollower) SyncBlocks(ctx context.Context, nodeHeight int64) error {
	for {
		tip, _, err := f.ledger.Tip(ctx, f.cfg.Chain)
		if err != nil {
			return err
		}
		f.loop.SetStatus(func(s *chains.Status) { s.Height, s.NodeHeight = tip.Height, nodeHeight })
		reverted, err := f.handleReorg(ctx, tip, nodeHeight)
		if err != nil {
			return err
		}
		if reverted {
			continue
		}
		if tip.Height >= nodeHeight {
			// Caught up with what the node had when we asked; ask again
			// only if blocks may have arrived meanwhile.
			best, err := f.src.BestHeight(ctx)
			if err != nil {
				return err
			}
			if best <= nodeHeight {
				return nil
			}
			nodeHeight = best
			continue
		}
		if err := f.connect(ctx, tip, nodeHeight); err != nil {
			return err
		}
	}
}

// connect applies blocks tip.Height+1 .. nodeHeight while each extends the
// previous one; it returns early (without error) when the node's chain
// changed under it, so the caller checks for a reorg again.
func (f *BlockFollower) connect(ctx context.Context, tip chains.Block, nodeHeight int64) error {
	catchUp := nodeHeight-tip.Height > 10
	if catchUp && f.lastProg.IsZero() {
		f.lastProg, f.progHeight = time.Now(), tip.Height
		f.log.Info("catching up", "height", tip.Height, "node_height", nodeHeight, "remaining", nodeHeight-tip.Height)
	}
	for h := tip.Height + 1; h <= nodeHeight; h++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hash, err := f.src.BlockHash(ctx, h)
		if errors.Is(err, ErrNoBlock) {
			return nil // the chain got shorter: check again
		}
		if err != nil {
			return err
		}
		ps, err := f.src.BlockPayments(ctx, h, hash, tip.Hash)
		if errors.Is(err, ErrNoBlock) || errors.Is(err, ErrChainChanged) {
			return nil // a reorg happened between our calls
		}
		if err != nil {
			return err
		}
		b := chains.Block{Height: h, Hash: hash}
		ch, err := f.applyBlock(ctx, b, ps)
		if err != nil {
			return fmt.Errorf("record block %d: %w", h, err)
		}
		if len(ps) > 0 {
			f.log.Info("block with payments", "height", h, "hash", hash, "outputs", len(ps),
				"added", ch.DepositsAdded, "updated", ch.DepositsUpdated, "notifications", ch.Notifications)
		}
		tip = b
		f.loop.SetHeight(h)
		if catchUp && time.Since(f.lastProg) >= f.cfg.ProgressInterval {
			el := time.Since(f.lastProg).Seconds()
			f.log.Info("catching up", "height", h, "node_height", nodeHeight,
				"blocks_per_s", fmt.Sprintf("%.1f", float64(h-f.progHeight)/el), "remaining", nodeHeight-h)
			f.lastProg, f.progHeight = time.Now(), h
		}
	}
	if catchUp {
		f.log.Info("caught up", "height", nodeHeight)
		f.lastProg = time.Time{}
	}
	return nil
}

// handleReorg checks that the ledger's tip is on the node's best chain. If
// not, it walks back through the remembered blocks to the common ancestor
// and disconnects every block above it, newest first.
func (f *BlockFollower) handleReorg(ctx context.Context, tip chains.Block, nodeHeight int64) (bool, error) {
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
	pool, err := f.src.Mempool(ctx)
	if err != nil {
		return false, err
	}
	f.log.Warn("reorganisation", "from_height", tip.Height, "common_ancestor", recent[anc].Height, "depth", anc)
	for i := 0; i < anc; i++ {
		b, parent := recent[i], recent[i+1]
		if parent.Height != b.Height-1 {
			return false, fmt.Errorf("%w: the ledger's remembered blocks have a gap at %d", ErrDeepReorg, parent.Height)
		}
		ch, err := f.revertBlock(ctx, b, parent, pool)
		if err != nil {
			return false, fmt.Errorf("revert block %d: %w", b.Height, err)
		}
		f.log.Warn("block disconnected", "height", b.Height, "hash", b.Hash,
			"deposits_unconfirmed", ch.DepositsUpdated, "deposits_orphaned", ch.DepositsRemoved)
		f.loop.SetHeight(parent.Height)
	}
	return true, nil
}

// SyncMempool diffs the node's mempool with the previous round (and with
// the ledger's mempool deposits), records payments of new transactions and
// orphans deposits whose transaction left without being mined.
func (f *BlockFollower) SyncMempool(ctx context.Context) error {
	tip, _, err := f.ledger.Tip(ctx, f.cfg.Chain)
	if err != nil {
		return err
	}
	before, err := f.src.BestHash(ctx)
	if err != nil {
		return err
	}
	ids, err := f.src.Mempool(ctx)
	if err != nil {
		return err
	}
	pool := make(map[string]bool, len(ids))
	var fresh []string
	for _, id := range ids {
		pool[id] = true
		if !f.prevPool[id] {
			fresh = append(fresh, id)
		}
	}
	ps, left, err := f.src.MempoolPayments(ctx, fresh)
	if err != nil {
		return err
	}
	for _, id := range left {
		delete(pool, id) // left already; looked at again if it returns
	}
	ledgerPool, err := f.ledger.MempoolTxIDs(ctx, f.cfg.Chain)
	if err != nil {
		return err
	}
	var gone []string
	seen := map[string]bool{}
	for _, id := range ledgerPool {
		if !pool[id] && !seen[id] {
			gone, seen[id] = append(gone, id), true
		}
	}
	after, err := f.src.BestHash(ctx)
	if err != nil {
		return err
	}
	if before != tip.Hash || after != before {
		// A block arrived that the ledger has not seen yet: a transaction
		// that left the mempool may have been mined. The next round
		// connects the block first and decides then.
		gone = nil
		f.loop.Poke()
	}
	if len(ps) > 0 || len(gone) > 0 {
		ch, err := f.applyMempool(ctx, ps, gone)
		if err != nil {
			return fmt.Errorf("record mempool: %w", err)
		}
		if ch.DepositsAdded+ch.DepositsUpdated+ch.DepositsRemoved > 0 {
			f.log.Info("mempool", "outputs", len(ps), "added", ch.DepositsAdded, "orphaned", ch.DepositsRemoved,
				"notifications", ch.Notifications)
		}
	}
	f.prevPool = pool
	return nil
}
