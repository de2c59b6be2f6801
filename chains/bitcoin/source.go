package bitcoin

import (
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
)

// Errors that stop the chain at a block (the watcher's status says which
// and why; /readyz answers 503 until it moves again).
var (
	// ErrUndecodableBlock: the node's block does not decode: ipnd never
	// skips a block it cannot read.
	ErrUndecodableBlock = errors.New("block does not decode")
	// ErrPrunedBlock: the node no longer has a block the ledger needs.
	ErrPrunedBlock = errors.New("block pruned on the node")
)

// rpcSource is the block source over JSON-RPC: blocks fetched with
// getblock, decoded with the family's decoder, matched against the watch
// set and checked for spends of watched unconfirmed transactions.
type rpcSource struct {
	node   Node
	fam    *Family
	net    *chaincfg.Params
	scan   func(txs []*wire.MsgTx, id func(int) chainhash.Hash) ([]Match, error)
	spends *spendWatch
	// reorgDepth: how long (in blocks) the coins of confirmed payments are
	// watched.
	reorgDepth int
}

var _ chainsync.BlockSource = (*rpcSource)(nil)

func (s *rpcSource) BestHeight(ctx context.Context) (int64, error) {
	info, err := s.node.ChainInfo(ctx)
	return info.Blocks, err
}

func (s *rpcSource) BlockHash(ctx context.Context, height int64) (string, error) {
	return s.node.BlockHash(ctx, height)
}

func (s *rpcSource) ScanBlock(ctx context.Context, height int64, hash, parent string) (chainsync.BlockScan, error) {
	raw, err := s.node.RawBlock(ctx, hash)
	if isPruned(err) {
		return chainsync.BlockScan{}, s.pruned(ctx, height, hash)
	}
	if err != nil {
		return chainsync.BlockScan{}, err
	}
	blk, err := s.fam.Decoder.DecodeBlock(raw)
	if err != nil {
		return chainsync.BlockScan{}, fmt.Errorf("%s: %w: %s block %d %s (%w); the chain stops at height %d until ipnd can read it: check that %s.rpc_host is a %s node",
			s.fam.Section, ErrUndecodableBlock, s.fam.Name, height, hash, err, height-1, s.fam.Section, s.fam.Name)
	}
	if got := blk.Hash.String(); got != hash {
		return chainsync.BlockScan{}, fmt.Errorf("%w: %s block %d: the node sent block %s for %s", ErrUndecodableBlock, s.fam.Name, height, got, hash)
	}
	if blk.Prev.String() != parent {
		return chainsync.BlockScan{}, chainsync.ErrChainChanged
	}
	ms, err := s.scan(blk.Txs, blk.ID)
	if err != nil {
		return chainsync.BlockScan{}, err
	}
	out := chainsync.BlockScan{Payments: payments(s.fam.Chain, ms)}
	s.spends.unconfirmFrom(height)
	var fs []finding
	if !s.spends.empty() {
		for i, tx := range blk.Txs {
			fs = s.spends.check(tx, func() chainhash.Hash { return blk.ID(i) }, true, fs)
		}
	}
	_, doubleSpent := s.spends.apply(fs, height)
	for _, id := range doubleSpent {
		out.Conflicts = append(out.Conflicts, id.String())
	}
	// The coins of the block's transactions paying us are watched while a
	// reorganisation can take the block away: a new branch spending them
	// is a double spend.
	s.confirmPaying(blk, ms, height)
	s.spends.expire(height - int64(s.reorgDepth))
	return out, nil
}

// confirmPaying watches the coins of the transactions of blk that pay
// watched scripts (ms), as mined at height.
func (s *rpcSource) confirmPaying(blk *Block, ms []Match, height int64) {
	for i, m := range ms {
		if i > 0 && ms[i-1].tx == m.tx {
			continue // outputs of one transaction are adjacent
		}
		s.spends.add(blk.ID(m.tx), blk.Txs[m.tx], height)
	}
}

// pruned explains a block the node no longer has.
func (s *rpcSource) pruned(ctx context.Context, height int64, hash string) error {
	keeps := "the blocks it still has"
	if info, err := s.node.ChainInfo(ctx); err == nil && info.PruneHeight > 0 {
		keeps = fmt.Sprintf("blocks from height %d (getblockchaininfo pruneheight)", info.PruneHeight)
	}
	return fmt.Errorf("%s: %w: block %d %s: the ledger fell behind what the node keeps (%s), so payments in the missing blocks cannot be read from it. "+
		"To resume, point %s.rpc_host at a node that has the blocks until ipnd caught up, or skip them: set %s.start_height to the node's pruneheight and restart ipnd "+
		"(payments in the skipped blocks are not seen)",
		s.fam.Section, ErrPrunedBlock, height, hash, keeps, s.fam.Section, s.fam.Section)
}

func (s *rpcSource) InMempool(ctx context.Context) (func(string) bool, error) {
	ids, err := s.node.RawMempool(ctx)
	if err != nil {
		return nil, err
	}
	pool := make(map[chainhash.Hash]bool, len(ids))
	for _, id := range ids {
		pool[id] = true
	}
	return func(txid string) bool {
		h, err := chainhash.NewHashFromStr(txid)
		return err == nil && pool[*h]
	}, nil
}

// payments turns matches into ledger payments; derived addresses carry
// their index so a gap address is recorded on its first payment.
func payments(c chains.Chain, ms []Match) []chains.Payment {
	out := make([]chains.Payment, 0, len(ms))
	for _, m := range ms {
		p := chains.Payment{TxID: m.TxID, OutIndex: m.Vout, Address: m.Address, Amount: m.Amount}
		if m.Entry.Derived {
			idx := m.Entry.Index
			p.Watch = &chains.Address{Chain: c, Address: m.Address, DerivationIndex: &idx}
		}
		out = append(out, p)
	}
	return out
}
