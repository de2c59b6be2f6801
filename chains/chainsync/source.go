package chainsync

import (
	"context"
	"errors"

	"github.com/ipnd/ipnd/chains"
)

// BlockSource is a Bitcoin-family node as the BlockFollower sees it: blocks
// by height on its best chain, and its mempool. The payments it returns are
// those to watched addresses (the source scans with the adapter's watch
// set). Today's source is JSON-RPC polling (package bitcoin); push sources
// (btcd websockets, bitcoind ZMQ) implement the same methods and call
// Loop.Poke when the node announces something.
type BlockSource interface {
	// BestHeight is the height of the node's best block.
	BestHeight(ctx context.Context) (int64, error)
	// BestHash is the hash of the node's best block.
	BestHash(ctx context.Context) (string, error)
	// BlockHash is the hash of the node's best-chain block at height; an
	// error matching ErrNoBlock when the node's chain is shorter.
	BlockHash(ctx context.Context, height int64) (string, error)
	// BlockPayments returns the payments in block hash at height, which
	// must extend parent: an error matching ErrNoBlock when the node does
	// not have the block, ErrChainChanged when it does not extend parent.
	BlockPayments(ctx context.Context, height int64, hash, parent string) ([]chains.Payment, error)
	// Mempool lists the transaction ids in the node's mempool.
	Mempool(ctx context.Context) ([]string, error)
	// MempoolPayments fetches the given mempool transactions and returns
	// the payments in them; left lists those the node no longer has.
	MempoolPayments(ctx context.Context, txids []string) (payments []chains.Payment, left []string, err error)
}

// Errors a BlockSource reports.
var (
	// ErrNoBlock: the node has no such block (a height beyond its tip, a
	// hash it does not know).
	ErrNoBlock = errors.New("the node has no such block")
	// ErrChainChanged: the node's best chain changed under a request (a
	// block that no longer extends the ledger's tip).
	ErrChainChanged = errors.New("the node's best chain changed")
)

// Errors the BlockFollower reports (in the watcher's status too).
var (
	// ErrNodeBehind: the node's best chain is shorter than the ledger's
	// tip and does not end in a block the ledger processed (a node still
	// syncing, or one that lost its chain). The follower waits.
	ErrNodeBehind = errors.New("the node is behind the ledger")
	// ErrDeepReorg: no block the ledger remembers is on the node's best
	// chain any more. The follower stops moving until an operator looks.
	ErrDeepReorg = errors.New("reorganisation deeper than the blocks the ledger remembers")
)
