package bitcoin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
)

// Node is what the watcher needs of a bitcoind or btcd node (*Client).
type Node interface {
	ChainInfo(ctx context.Context) (ChainInfo, error)
	BlockHash(ctx context.Context, height int64) (string, error)
	BestBlockHash(ctx context.Context) (string, error)
	RawBlock(ctx context.Context, hash string) ([]byte, error)
	RawMempool(ctx context.Context) ([]string, error)
	RawTransaction(ctx context.Context, txid string) ([]byte, error)
}

// Ledger is what the watcher needs of the ledger (*db.Ledger).
type Ledger interface {
	chainsync.BlockLedger
	Addresses(ctx context.Context, c chains.Chain) ([]chains.Address, error)
	HighestDerivationIndex(ctx context.Context, c chains.Chain) (int64, error)
	LastAddressID(ctx context.Context) (int64, error)
	AddressesAfter(ctx context.Context, afterID int64) ([]chains.Address, error)
}

// Errors the watcher reports in its status.
var (
	// ErrNodeBehind: the node's best chain is shorter than the ledger's
	// tip and does not end in a block the ledger processed. The watcher
	// waits.
	ErrNodeBehind = chainsync.ErrNodeBehind
	// ErrDeepReorg: no block the ledger remembers is on the node's best
	// chain any more. The watcher stops moving until an operator looks.
	ErrDeepReorg = chainsync.ErrDeepReorg
	// ErrNodeNetwork: the node runs another network than bitcoin.network.
	ErrNodeNetwork = errors.New("the node runs another network")
)

// Watcher follows a node's best chain and mempool and records payments to
// watched scripts in the ledger: each round polls the node over JSON-RPC
// (the block source) and hands what it finds to a chainsync.BlockFollower.
// Run it in one goroutine; Status, Poke and the Watch methods are safe from
// any goroutine.
type Watcher struct {
	*chainsync.Loop // Run, Poll, Poke, Status

	chain  chains.Chain
	node   Node
	ledger Ledger
	d      *Deriver
	cfg    WatcherConfig
	log    *slog.Logger
	follow *chainsync.BlockFollower
	set    *WatchSet

	winMu     sync.Mutex
	maxIdx    int64 // highest derivation index allocated or paid; -1 none
	derivedTo int64 // gap window derived up to here

	// Round state (the loop runs one round at a time).
	started     bool
	lastRefresh time.Time
	lastAddrID  int64 // newest ledger address id at the last Refresh
}

// NewWatcher makes a watcher; Run starts it.
func NewWatcher(node Node, ledger Ledger, d *Deriver, cfg WatcherConfig) *Watcher {
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 5 * time.Minute
	}
	if cfg.GapLimit < 0 {
		cfg.GapLimit = 0
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		chain: chains.BTC, node: node, ledger: ledger, d: d, cfg: cfg, log: log.With("subsystem", "btc"),
		set: NewWatchSet(0), maxIdx: -1, derivedTo: -1,
	}
	w.Loop = chainsync.NewLoop(chainsync.LoopConfig{
		Chain: w.chain, PollInterval: cfg.PollInterval, MaxBackoff: cfg.MaxBackoff, Classify: classify, Logger: w.log,
	}, w.round)
	src := &rpcSource{node: node, net: d.net, chain: w.chain, scan: w.scan}
	w.follow = chainsync.NewBlockFollower(src, ledger, w.Loop, chainsync.FollowerConfig{
		Chain: w.chain, Section: "bitcoin", ReorgDepth: cfg.ReorgDepth, ProgressInterval: cfg.ProgressInterval,
		Hooks: cfg.Hooks, Logger: w.log,
	})
	return w
}

// classify is the state a failed round is reported as: behind while the
// node catches up or after a deep reorg, unreachable otherwise.
func classify(err error) chains.SyncState {
	if errors.Is(err, ErrNodeBehind) || errors.Is(err, ErrDeepReorg) || IsWarmingUp(err) {
		return chains.Behind
	}
	return chains.Unreachable
}

// round runs one poll: blocks (with reorgs) first, then the mempool.
func (w *Watcher) round(ctx context.Context) error {
	info, err := w.node.ChainInfo(ctx)
	if err != nil {
		return err
	}
	if !sameNetwork(info.Chain, w.d.net.Name) {
		return fmt.Errorf("%w: node chain %q, bitcoin.network %s", ErrNodeNetwork, info.Chain, w.d.net.Name)
	}
	w.SetNodeHeight(info.Blocks)
	if !w.started {
		if err := w.init(ctx, info); err != nil {
			return err
		}
	}
	if err := w.refreshWindow(ctx); err != nil {
		return err
	}
	if err := w.follow.SyncBlocks(ctx, info.Blocks); err != nil {
		return err
	}
	if info.InitialBlockDownload {
		// The node's mempool means little before it has caught up.
		w.RoundDone(true, "node in initial block download")
		return nil
	}
	if err := w.follow.SyncMempool(ctx); err != nil {
		return err
	}
	w.RoundDone(false, "")
	return nil
}

func sameNetwork(nodeChain, netName string) bool {
	if nodeChain == "" {
		return true
	}
	names := map[string][]string{
		"mainnet":  {"main", "mainnet"},
		"testnet3": {"test", "testnet", "testnet3"},
		"signet":   {"signet"},
		"regtest":  {"regtest"},
	}
	for _, n := range names[netName] {
		if n == nodeChain {
			return true
		}
	}
	return false
}

// init records the start block at the very first start and loads the
// watch set.
func (w *Watcher) init(ctx context.Context, info ChainInfo) error {
	tip, err := w.follow.Start(ctx, chains.Block{Height: info.Blocks, Hash: info.BestBlockHash}, w.cfg.StartHeight)
	if err != nil {
		return err
	}
	w.SetHeight(tip.Height)
	if err := w.Refresh(ctx); err != nil {
		return err
	}
	w.started = true
	w.log.Info("watching", "scripts", w.set.Len(), "tip", tip.Height, "gap_limit", w.cfg.GapLimit, "type", w.d.typ)
	return nil
}
