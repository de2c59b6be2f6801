package bitcoin

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/ipnd/ipnd/chains"
)

// loadConfirmed watches again the coins of the confirmed payments a
// reorganisation can still reach (ps: the ledger's confirmed deposits of
// the last reorgDepth blocks), as the blocks that mined them were scanned
// before a restart: a new branch spending them is then a double spend
// again, not a mere reorganisation. The transactions' inputs are not in
// the ledger; each block holding some is read from the node once. A
// block the node no longer has or cannot give is skipped (logged): its
// payments read reorg should a new branch spend them.
func (s *rpcSource) loadConfirmed(ctx context.Context, ps []chains.Payment, log *slog.Logger) (int, error) {
	type block struct {
		height int64
		txs    map[chainhash.Hash]bool
	}
	blocks := map[string]*block{}
	var order []string
	for _, p := range ps {
		id, err := chainhash.NewHashFromStr(p.TxID)
		if err != nil || p.Height <= 0 || p.BlockHash == "" {
			continue // not a transaction id of this family, or no block
		}
		b, ok := blocks[p.BlockHash]
		if !ok {
			b = &block{height: p.Height, txs: map[chainhash.Hash]bool{}}
			blocks[p.BlockHash] = b
			order = append(order, p.BlockHash)
		}
		b.txs[*id] = true
	}
	watched := 0
	for _, hash := range order {
		b := blocks[hash]
		raw, err := s.node.RawBlock(ctx, hash)
		if isNotFound(err) || isPruned(err) {
			log.Warn("a block of recent confirmed payments is not on the node; a reorg taking them away reads reorg, not double_spend",
				"height", b.height, "block", hash, "err", err)
			continue
		}
		if err != nil {
			return watched, fmt.Errorf("read block %d %s of recent confirmed payments: %w", b.height, hash, err)
		}
		blk, err := s.fam.Decoder.DecodeBlock(raw)
		if err != nil || blk.Hash.String() != hash {
			log.Warn("a block of recent confirmed payments does not decode; a reorg taking them away reads reorg, not double_spend",
				"height", b.height, "block", hash, "err", err)
			continue
		}
		for i, tx := range blk.Txs {
			if id := blk.ID(i); b.txs[id] {
				s.spends.add(id, tx, b.height)
				watched++
			}
		}
	}
	return watched, nil
}
