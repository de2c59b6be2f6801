package chainsync

import (
	"context"

	"github.com/ipnd/ipnd/chains"
)

// HashAt is the node's best-chain block hash at a height.
type HashAt func(ctx context.Context, height int64) (string, error)

// CommonAncestor finds where the ledger's remembered blocks (recent, newest
// first) meet the node's best chain: the index in recent of the newest block
// whose hash the node has at the same height, or -1 when none of them is on
// the node's chain (a reorganisation deeper than the ledger remembers).
// Blocks above nodeHeight are passed over without asking the node.
func CommonAncestor(ctx context.Context, recent []chains.Block, nodeHeight int64, hashAt HashAt) (int, error) {
	for i, b := range recent {
		if b.Height > nodeHeight {
			continue
		}
		h, err := hashAt(ctx, b.Height)
		if err != nil {
			return -1, err
		}
		if h == b.Hash {
			return i, nil
		}
	}
	return -1, nil
}
