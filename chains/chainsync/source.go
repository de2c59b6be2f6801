package chainsync

import (
	"context"
	"errors"

	"github.com/ipnd/ipnd/chains"
)

// BlockSource is a Bitcoin-family node's best chain as the BlockFollower
// sees it: blocks by height, scanned for payments to watched addresses
// (the source scans with the adapter's watch set). The mempool is the
// adapter's business (package bitcoin follows it by push and polling and
// records what it finds with BlockFollower.Record); the follower asks only
// which transactions the node has unconfirmed when a reorganisation
// disconnects blocks.
type BlockSource interface {
	// BestHeight is the height of the node's best block.
	BestHeight(ctx context.Context) (int64, error)
	// BlockHash is the hash of the node's best-chain block at height; an
	// error matching ErrNoBlock when the node's chain is shorter.
	BlockHash(ctx context.Context, height int64) (string, error)
	// ScanBlock returns what block hash at height holds for the ledger; the
	// block must extend parent: an error matching ErrNoBlock when the node
	// does not have the block, ErrChainChanged when it does not extend
	// parent.
	ScanBlock(ctx context.Context, height int64, hash, parent string) (BlockScan, error)
	// InMempool reports which transactions the node has in its mempool now.
	InMempool(ctx context.Context) (func(txid string) bool, error)
}

// BlockScan is what a block holds for the ledger.
type BlockScan struct {
	// Payments to watched addresses.
	Payments []chains.Payment
	// Conflicts lists unconfirmed transactions paying watched addresses
	// that a transaction of this block double spends (they can never be
	// mined now).
	Conflicts []string
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
