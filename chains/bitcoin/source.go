package bitcoin

import (
	"bytes"
	"context"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
)

// rpcSource is the JSON-RPC polling block source: blocks and mempool
// transactions fetched over the node's RPC, decoded with btcd's wire
// decoder and matched against the watch set (scan).
type rpcSource struct {
	node  Node
	net   *chaincfg.Params
	chain chains.Chain
	scan  func(txs []*wire.MsgTx) ([]Match, error)
}

var _ chainsync.BlockSource = (*rpcSource)(nil)

func (s *rpcSource) BestHeight(ctx context.Context) (int64, error) {
	info, err := s.node.ChainInfo(ctx)
	return info.Blocks, err
}

func (s *rpcSource) BestHash(ctx context.Context) (string, error) { return s.node.BestBlockHash(ctx) }

func (s *rpcSource) BlockHash(ctx context.Context, height int64) (string, error) {
	return s.node.BlockHash(ctx, height)
}

func (s *rpcSource) BlockPayments(ctx context.Context, height int64, hash, parent string) ([]chains.Payment, error) {
	raw, err := s.node.RawBlock(ctx, hash)
	if err != nil {
		return nil, err
	}
	blk, err := DecodeBlock(raw)
	if err != nil {
		return nil, fmt.Errorf("block %d %s: %w", height, hash, err)
	}
	if got := blk.BlockHash().String(); got != hash {
		return nil, fmt.Errorf("block %d: node sent %s for %s", height, got, hash)
	}
	if blk.Header.PrevBlock.String() != parent {
		return nil, chainsync.ErrChainChanged
	}
	ms, err := s.scan(blk.Transactions)
	if err != nil {
		return nil, err
	}
	return s.payments(ms), nil
}

func (s *rpcSource) Mempool(ctx context.Context) ([]string, error) { return s.node.RawMempool(ctx) }

func (s *rpcSource) MempoolPayments(ctx context.Context, txids []string) ([]chains.Payment, []string, error) {
	var txs []*wire.MsgTx
	var left []string
	for _, id := range txids {
		raw, err := s.node.RawTransaction(ctx, id)
		if IsNotFound(err) {
			left = append(left, id)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		var tx wire.MsgTx
		if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
			return nil, nil, fmt.Errorf("mempool tx %s: %w", id, err)
		}
		txs = append(txs, &tx)
	}
	ms, err := s.scan(txs)
	if err != nil {
		return nil, nil, err
	}
	return s.payments(ms), left, nil
}

// payments turns matches into ledger payments; derived addresses carry
// their index so a gap address is recorded on its first payment.
func (s *rpcSource) payments(ms []Match) []chains.Payment {
	out := make([]chains.Payment, 0, len(ms))
	for _, m := range ms {
		p := chains.Payment{TxID: m.TxID, OutIndex: m.Vout, Address: m.Address, Amount: m.Amount}
		if m.Entry.Derived {
			idx := m.Entry.Index
			p.Watch = &chains.Address{Chain: s.chain, Address: m.Address, DerivationIndex: &idx}
		}
		out = append(out, p)
	}
	return out
}
