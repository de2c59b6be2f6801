package bitcoin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
)

// Node is what the watcher needs of a bitcoind or btcd node (*Client).
type Node interface {
	ChainInfo(ctx context.Context) (ChainInfo, error)
	BlockHash(ctx context.Context, height int64) (string, error)
	BestBlockHash(ctx context.Context) (string, error)
	RawBlock(ctx context.Context, hash string) ([]byte, error)
	RawMempool(ctx context.Context) ([]chainhash.Hash, error)
	RawTransactions(ctx context.Context, ids []chainhash.Hash) ([][]byte, []error, error)
	MempoolInfo(ctx context.Context) (MempoolInfo, error)
	Uptime(ctx context.Context) (int64, error)
	ZMQNotifications(ctx context.Context) ([]ZMQNotification, error)
	// CloseIdle closes idle connections: the watcher keeps none between
	// rounds, so a stopping node never waits for ipnd.
	CloseIdle()
}

// Ledger is what the watcher needs of the ledger (*db.Ledger).
type Ledger interface {
	chainsync.BlockLedger
	MempoolTxIDs(ctx context.Context, c chains.Chain) ([]string, error)
	Addresses(ctx context.Context, c chains.Chain) ([]chains.Address, error)
	HighestDerivationIndex(ctx context.Context, c chains.Chain) (int64, error)
	LastAddressID(ctx context.Context) (int64, error)
	AddressesAfter(ctx context.Context, afterID int64) ([]chains.Address, error)
	// ConfirmedPaymentsSince: the chain's confirmed deposits mined at
	// fromHeight or above (TxID, OutIndex, Height, BlockHash).
	ConfirmedPaymentsSince(ctx context.Context, c chains.Chain, fromHeight int64) ([]chains.Payment, error)
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
	// ErrNodeNetwork: the node runs another network or chain than the
	// configured one (its chain name or its genesis block differ).
	ErrNodeNetwork = errors.New("the node runs another network")
)

// Watcher follows a node's best chain and mempool and records payments to
// watched scripts in the ledger. Each round (chainsync.Loop) checks the
// node (its genesis block after every start or failure), brings the ledger
// to its best chain through a chainsync.BlockFollower and follows the
// mempool; push notifications (btcd websocket, bitcoind ZMQ) start rounds
// at once and feed new transactions, with polling as the fallback and the
// safety net. Run it in one goroutine; Status, Poke and the Watch methods
// are safe from any goroutine.
type Watcher struct {
	*chainsync.Loop // Run's rounds, Poll, Poke

	fam    *Family
	node   Node
	ledger Ledger
	d      *Deriver
	cfg    WatcherConfig
	log    *slog.Logger
	follow *chainsync.BlockFollower
	src    *rpcSource
	pool   *mempoolFollower
	set    *WatchSet
	stats  *stats

	winMu     sync.Mutex
	maxIdx    int64 // highest derivation index allocated or paid; -1 none
	derivedTo int64 // gap window derived up to here

	push       pushState
	checkChain atomic.Bool   // the genesis block is checked before the next round
	beat       time.Duration // the longest wait between rounds while push works

	// Round state (the loop runs one round at a time).
	started     bool
	lastRefresh time.Time
	lastAddrID  int64 // newest ledger address id at the last Refresh
	// lastIndexCheck: the last read of the ledger's highest derivation index.
	lastIndexCheck time.Time
}

// NewWatcher makes a watcher; Run starts it.
func NewWatcher(node Node, ledger Ledger, d *Deriver, cfg WatcherConfig) *Watcher {
	cfg = cfg.withDefaults(d)
	w := &Watcher{
		fam: d.fam, node: node, ledger: ledger, d: d, cfg: cfg, log: cfg.Logger.With("subsystem", string(d.fam.Chain)),
		set: NewWatchSet(0), maxIdx: -1, derivedTo: -1, stats: newStats(d.fam.Chain), beat: heartbeat,
	}
	w.checkChain.Store(true)
	w.Loop = chainsync.NewLoop(chainsync.LoopConfig{
		Chain: w.fam.Chain, Interval: w.interval, MaxBackoff: cfg.MaxBackoff, Classify: classify, Logger: w.log,
		StaleAfter: max(3*cfg.PollInterval, 30*time.Second),
	}, w.round)
	spends := newSpendWatch()
	w.src = &rpcSource{node: node, fam: w.fam, net: d.net, scan: w.scan, spends: spends, reorgDepth: cfg.ReorgDepth}
	w.follow = chainsync.NewBlockFollower(w.src, ledger, w.Loop, chainsync.FollowerConfig{
		Chain: w.fam.Chain, Section: w.fam.Section, ReorgDepth: cfg.ReorgDepth, ProgressInterval: cfg.ProgressInterval,
		Hooks: cfg.Hooks, Logger: w.log,
	})
	w.pool = newMempoolFollower(mempoolConfig{
		FullEvery: cfg.PollInterval, Batch: cfg.MempoolBatch, Budget: cfg.ImportBudget,
		RestartGrace: cfg.RestartGrace, ProgressInterval: cfg.ProgressInterval,
	}, node, w.fam, ledger, w.follow, w.scan, spends, w.stats, w.log, w.Poke)
	return w
}

// Run follows the chain until ctx ends: push notifications (unless
// push is off) and the rounds.
func (w *Watcher) Run(ctx context.Context) error {
	if w.cfg.Push.Mode != PushOff {
		go w.runPush(ctx)
	}
	return w.Loop.Run(ctx)
}

// interval is the wait between rounds: a heartbeat while push works (the
// mempool's safety look still comes every PollInterval), fast polling
// while it does not.
func (w *Watcher) interval() time.Duration {
	if w.push.healthy.Load() {
		return min(w.cfg.PollInterval, w.beat)
	}
	return min(w.cfg.PollInterval, fastPoll)
}

// Status is the watcher's health for /readyz and the metrics, with how it
// hears of the chain (Feed).
func (w *Watcher) Status() chains.Status {
	s := w.Loop.Status()
	s.Feed = "polling"
	if w.push.healthy.Load() {
		s.Feed = w.push.name()
	}
	return s
}

// classify is the state a failed round is reported as: behind while the
// node catches up, after a deep reorg or at a block ipnd cannot read,
// unreachable otherwise.
func classify(err error) chains.SyncState {
	if errors.Is(err, ErrNodeBehind) || errors.Is(err, ErrDeepReorg) || isWarmingUp(err) ||
		errors.Is(err, ErrUndecodableBlock) || errors.Is(err, ErrPrunedBlock) {
		return chains.Behind
	}
	return chains.Unreachable
}

// round runs one poll: the node's chain, blocks (with reorgs), then the
// mempool. Idle connections are closed after it.
func (w *Watcher) round(ctx context.Context) error {
	defer w.node.CloseIdle()
	err := w.roundOnce(ctx)
	if err != nil {
		w.checkChain.Store(true) // a failure may be a restarted or replaced node
	}
	return err
}

func (w *Watcher) roundOnce(ctx context.Context) error {
	if w.checkChain.Load() {
		if err := w.checkGenesis(ctx); err != nil {
			return err
		}
		w.checkChain.Store(false)
	}
	info, err := w.node.ChainInfo(ctx)
	if err != nil {
		return err
	}
	if !sameNetwork(info.Chain, w.d.network) {
		return fmt.Errorf("%w: the node's chain is %q, %s.network is %s", ErrNodeNetwork, info.Chain, w.fam.Section, w.cfg.Network)
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
	tip, err := w.follow.Tip(ctx)
	if err != nil {
		return err
	}
	if info.Blocks < tip.Height && (info.InitialBlockDownload || info.Headers > info.Blocks) {
		// A shorter chain is a reorg only on a node that is not syncing.
		return fmt.Errorf("%w: the node is syncing (height %d of %d headers) below the ledger's %d; waiting",
			ErrNodeBehind, info.Blocks, info.Headers, tip.Height)
	}
	if err := w.follow.SyncBlocks(ctx, chains.Block{Height: info.Blocks, Hash: info.BestBlockHash}); err != nil {
		return err
	}
	if info.InitialBlockDownload {
		// The node's mempool means little before it has caught up.
		w.RoundDone(true, "node in initial block download")
		return nil
	}
	if tip, err = w.follow.Tip(ctx); err != nil {
		return err
	}
	if err := w.pool.sync(ctx, tip, w.push.healthy.Load()); err != nil {
		return err
	}
	w.RoundDone(false, "")
	return nil
}

// checkGenesis refuses a node whose block 0 is not the configured
// network's genesis block: another coin (Litecoin reports "regtest" and
// "main" like Bitcoin) or another network (genesisMismatch).
func (w *Watcher) checkGenesis(ctx context.Context) error {
	got, err := w.node.BlockHash(ctx, 0)
	if err != nil {
		return err
	}
	if err := w.fam.genesisMismatch(w.d.network, w.cfg.Network, got); err != nil {
		return fmt.Errorf("%w: %w", ErrNodeNetwork, err)
	}
	return nil
}

// sameNetwork reports whether the node's chain name (getblockchaininfo)
// is the configured network's; an empty name is not checked.
func sameNetwork(nodeChain string, n *Network) bool {
	return nodeChain == "" || slices.Contains(n.NodeChains, nodeChain)
}

// restoreSpendDepth is how many recent blocks' confirmed payments a start
// watches again for double spends (loadConfirmed reads each of those
// blocks from the node, before the watcher is ready: on mainnet a few MB
// each, so not ReorgDepth's 200). A reorg deeper than this, which
// Bitcoin and Litecoin mainnet have not seen in a decade, reads reorg for
// payments confirmed before the restart.
const restoreSpendDepth = 6

// init records the start block at the very first start, loads the
// watch set, and watches the coins of the confirmed payments of the last
// restoreSpendDepth blocks as before the restart (loadConfirmed).
func (w *Watcher) init(ctx context.Context, info ChainInfo) error {
	tip, err := w.follow.Start(ctx, chains.Block{Height: info.Blocks, Hash: info.BestBlockHash}, w.cfg.StartHeight)
	if err != nil {
		return err
	}
	w.SetHeight(tip.Height)
	if err := w.Refresh(ctx); err != nil {
		return err
	}
	from := tip.Height - int64(min(w.cfg.ReorgDepth, restoreSpendDepth)) + 1
	recent, err := w.ledger.ConfirmedPaymentsSince(ctx, w.fam.Chain, from)
	if err != nil {
		return err
	}
	if n, err := w.src.loadConfirmed(ctx, recent, w.log); err != nil {
		return err
	} else if n > 0 {
		w.log.Info("watching the coins of recent confirmed payments for double spends", "transactions", n,
			"from_height", from)
	}
	w.started = true
	w.log.Info("watching", "scripts", w.set.Len(), "tip", tip.Height, "gap_limit", w.cfg.GapLimit, "type", w.d.typ,
		"push", w.cfg.Push.Mode, "poll_interval", w.cfg.PollInterval)
	return nil
}

// scan matches txs (id(i) is txs[i]'s id), growing the gap window when a
// payment lands beyond the highest used index and scanning again until
// nothing new is watched.
func (w *Watcher) scan(txs []*wire.MsgTx, id func(int) chainhash.Hash) ([]Match, error) {
	p := ScanParams{Net: w.d.net, MaxMoney: w.fam.MaxMoney}
	for {
		ms, bad := w.set.ScanTxs(nil, nil, txs, id, p)
		w.badValues(bad)
		w.winMu.Lock()
		top := w.maxIdx
		w.winMu.Unlock()
		grow := top
		for _, m := range ms {
			if m.Entry.Derived && int64(m.Entry.Index) > grow {
				grow = int64(m.Entry.Index)
			}
		}
		if grow == top {
			return ms, nil
		}
		if err := w.extendWindow(grow); err != nil {
			return nil, err
		}
	}
}

// badValues logs outputs whose value is out of the family's range (the
// first few of a scan): they are skipped, everything else goes on. A rescan after the window grew reports them again: rare (a
// payment beyond the window in the same transactions) and harmless.
func (w *Watcher) badValues(bad []BadValue) {
	if len(bad) == 0 {
		return
	}
	for i, b := range bad {
		if i == 3 {
			w.log.Warn("more outputs with out-of-range values skipped", "count", len(bad)-i)
			break
		}
		w.log.Warn("output value out of range; output skipped (crafted or corrupt node data)", "txid", b.TxID, "vout", b.Vout,
			"value", b.Value, "max", w.fam.MaxMoney)
	}
}
