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
	SkipTo(ctx context.Context, c chains.Chain, b chains.Block) (chains.Change, error)
	ApplyChainUpdate(ctx context.Context, c chains.Chain, u chains.ChainUpdate) (chains.Change, error)
}

// FollowerConfig tunes a BlockFollower.
type FollowerConfig struct {
	Chain chains.Chain
	// Section is the chain's configuration section ("bitcoin"), named in
	// errors that point the operator at a setting.
	Section string
	// ReorgDepth is how many recent blocks are compared with the node when
	// looking for the common ancestor, and the most blocks of a new branch
	// written in the reorganisation's one ledger transaction (default 200).
	ReorgDepth int
	// ProgressInterval between catch-up progress lines (default 5 s).
	ProgressInterval time.Duration
	Hooks            Hooks
	// Logger has the chain's subsystem attribute; nil discards.
	Logger *slog.Logger
}

// BlockFollower brings the ledger to a Bitcoin-family node's best chain:
// each connected block is one ledger transaction, a reorganisation (its
// disconnects and the new branch's connects) is one, and the adapter's
// mempool findings go through Record; every write also makes the
// notifications it causes. It reports heights in loop's status. Its
// methods run on the loop's goroutine (one round at a time).
type BlockFollower struct {
	src    BlockSource
	ledger BlockLedger
	loop   *Loop
	cfg    FollowerConfig
	log    *slog.Logger

	tip      chains.Block // the ledger's tip, valid when haveTip
	haveTip  bool
	lastProg time.Time
	progFrom int64
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
	return &BlockFollower{src: src, ledger: ledger, loop: loop, cfg: cfg, log: log}
}

// Start returns the ledger's tip. At the very first start (no tip yet) it
// records the block scanning begins after: the node's tip, or the block
// below startHeight when that is set. A startHeight above the ledger's tip
// moves the tip forward to the block below it: the operator's way past
// blocks a pruned node no longer has.
func (f *BlockFollower) Start(ctx context.Context, nodeTip chains.Block, startHeight int64) (chains.Block, error) {
	tip, ok, err := f.ledger.Tip(ctx, f.cfg.Chain)
	if err != nil {
		return chains.Block{}, err
	}
	if ok && startHeight-1 <= tip.Height {
		f.tip, f.haveTip = tip, true
		return tip, nil
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
	if ok {
		ch, err := f.ledger.SkipTo(ctx, f.cfg.Chain, start)
		if _, err := f.cfg.Hooks.wrote(f.cfg.Chain, ch, err); err != nil {
			return chains.Block{}, err
		}
		f.log.Warn("skipping blocks: start_height is above the ledger's tip; payments in the skipped blocks are not seen",
			"setting", f.cfg.Section+".start_height", "from_height", tip.Height+1, "to_height", start.Height)
	} else {
		if err := f.ledger.SetStart(ctx, f.cfg.Chain, start); err != nil {
			return chains.Block{}, err
		}
		f.log.Info("first start: scanning from the block after", "height", start.Height, "hash", start.Hash)
	}
	f.tip, f.haveTip = start, true
	return start, nil
}

// Tip is the ledger's tip as this follower last wrote or read it.
func (f *BlockFollower) Tip(ctx context.Context) (chains.Block, error) {
	if f.haveTip {
		return f.tip, nil
	}
	tip, _, err := f.ledger.Tip(ctx, f.cfg.Chain)
	if err != nil {
		return chains.Block{}, err
	}
	f.tip, f.haveTip = tip, true
	return tip, nil
}

// Record writes u in one ledger transaction (the adapter's mempool
// findings: new payments, dropped transactions) and tells the hooks.
func (f *BlockFollower) Record(ctx context.Context, u chains.ChainUpdate) (chains.Change, error) {
	if u.Empty() {
		return chains.Change{}, nil
	}
	before, err := f.Tip(ctx)
	if err != nil {
		return chains.Change{}, err
	}
	ch, err := f.ledger.ApplyChainUpdate(ctx, f.cfg.Chain, u)
	if err != nil {
		f.haveTip = false // read it again: the write may or may not have happened
		return ch, err
	}
	f.tip = u.Tip(before)
	if n := len(u.Disconnect); n > 0 {
		f.cfg.Hooks.reorg(f.cfg.Chain, n) // one reorganisation, n blocks deep
	}
	f.cfg.Hooks.blocksApplied(f.cfg.Chain, len(u.Connect))
	return f.cfg.Hooks.wrote(f.cfg.Chain, ch, nil)
}

// SyncBlocks brings the ledger to the node's best chain (node is its best
// block as last seen): a reorganisation first, then every missing block,
// each in its own ledger transaction.
func (f *BlockFollower) SyncBlocks(ctx context.Context, node chains.Block) error {
	nodeHeight := node.Height
	for {
		tip, err := f.Tip(ctx)
		if err != nil {
			return err
		}
		f.loop.SetStatus(func(s *chains.Status) { s.Height, s.NodeHeight = tip.Height, nodeHeight })
		if tip.Hash == node.Hash && tip.Height == node.Height {
			return nil // nothing new: no call to the node
		}
		reorged, err := f.handleReorg(ctx, tip, nodeHeight)
		if err != nil {
			return err
		}
		if reorged {
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
			nodeHeight, node = best, chains.Block{Height: best}
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
		f.lastProg, f.progFrom = time.Now(), tip.Height
		f.log.Info("catching up", "height", tip.Height, "node_height", nodeHeight, "remaining", nodeHeight-tip.Height)
	}
	for h := tip.Height + 1; h <= nodeHeight; h++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		bp, conflicts, ok, err := f.scan(ctx, h, tip.Hash)
		if err != nil || !ok {
			return err // !ok: the chain changed between our calls
		}
		ch, err := f.Record(ctx, chains.ChainUpdate{Connect: []chains.BlockPayments{bp}, Gone: conflicts})
		if err != nil {
			return fmt.Errorf("record block %d: %w", h, err)
		}
		if len(bp.Payments) > 0 || len(conflicts) > 0 {
			f.log.Info("block with payments", "height", h, "hash", bp.Block.Hash, "outputs", len(bp.Payments),
				"double_spent", len(conflicts), "added", ch.DepositsAdded, "updated", ch.DepositsUpdated,
				"notifications", ch.Notifications)
		}
		tip = bp.Block
		f.loop.SetHeight(h)
		if catchUp && time.Since(f.lastProg) >= f.cfg.ProgressInterval {
			el := time.Since(f.lastProg).Seconds()
			f.log.Info("catching up", "height", h, "node_height", nodeHeight,
				"blocks_per_s", fmt.Sprintf("%.1f", float64(h-f.progFrom)/el), "remaining", nodeHeight-h)
			f.lastProg, f.progFrom = time.Now(), h
		}
	}
	if catchUp {
		f.log.Info("caught up", "height", nodeHeight)
		f.lastProg = time.Time{}
	}
	return nil
}

// scan reads the node's block at height h, which must extend parent; ok
// is false when the node's chain changed under the request.
func (f *BlockFollower) scan(ctx context.Context, h int64, parent string) (chains.BlockPayments, []chains.Gone, bool, error) {
	hash, err := f.src.BlockHash(ctx, h)
	if errors.Is(err, ErrNoBlock) {
		return chains.BlockPayments{}, nil, false, nil // the chain got shorter
	}
	if err != nil {
		return chains.BlockPayments{}, nil, false, err
	}
	s, err := f.src.ScanBlock(ctx, h, hash, parent)
	if errors.Is(err, ErrNoBlock) || errors.Is(err, ErrChainChanged) {
		return chains.BlockPayments{}, nil, false, nil
	}
	if err != nil {
		return chains.BlockPayments{}, nil, false, err
	}
	var gone []chains.Gone
	for _, id := range s.Conflicts {
		gone = append(gone, chains.Gone{TxID: id, Reason: chains.ReasonDoubleSpend})
	}
	return chains.BlockPayments{Block: chains.Block{Height: h, Hash: hash}, Payments: s.Payments}, gone, true, nil
}
