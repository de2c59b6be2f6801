package bitcoin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
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
	Tip(ctx context.Context, c chains.Chain) (chains.Block, bool, error)
	RecentBlocks(ctx context.Context, c chains.Chain, n int) ([]chains.Block, error)
	SetStart(ctx context.Context, c chains.Chain, b chains.Block) error
	MempoolTxIDs(ctx context.Context, c chains.Chain) ([]string, error)
	ApplyBlock(ctx context.Context, c chains.Chain, b chains.Block, payments []chains.Payment) (chains.Change, error)
	RevertBlock(ctx context.Context, c chains.Chain, b, parent chains.Block, stillInMempool []string) (chains.Change, error)
	ApplyMempool(ctx context.Context, c chains.Chain, added []chains.Payment, gone []string) (chains.Change, error)
	Addresses(ctx context.Context, c chains.Chain) ([]chains.Address, error)
	HighestDerivationIndex(ctx context.Context, c chains.Chain) (int64, error)
	LastAddressID(ctx context.Context) (int64, error)
	AddressesAfter(ctx context.Context, afterID int64) ([]chains.Address, error)
}

// WatcherConfig tunes a Watcher.
type WatcherConfig struct {
	// GapLimit unallocated indexes beyond the highest allocated (or paid)
	// one are watched too.
	GapLimit int
	// StartHeight is the first block scanned at the very first start; 0
	// means the node's tip at that moment (only later blocks are scanned).
	StartHeight int64
	// PollInterval between polls (default 1 s).
	PollInterval time.Duration
	// MaxBackoff caps the wait after node trouble (default 30 s).
	MaxBackoff time.Duration
	// RefreshInterval is how often every ledger address is reloaded into the
	// watch set even when no new ledger address was seen (default 5 min);
	// a new one (recorded by another process) triggers a reload at once.
	RefreshInterval time.Duration
	// ProgressInterval between catch-up progress lines (default 5 s).
	ProgressInterval time.Duration
	// ReorgDepth is how many recent blocks are compared with the node when
	// looking for the common ancestor (default 200).
	ReorgDepth int
	Logger     *slog.Logger
}

// WatcherConfigFrom takes the watcher settings of the [bitcoin] section.
func WatcherConfigFrom(c config.Bitcoin, log *slog.Logger) WatcherConfig {
	return WatcherConfig{GapLimit: c.GapLimit, StartHeight: c.StartHeight, PollInterval: c.PollInterval.D(), Logger: log}
}

// Errors the watcher reports in its status.
var (
	// ErrNodeBehind: the node's best chain is shorter than the ledger's
	// tip and does not end in a block the ledger processed (a node still
	// syncing, or one that lost its chain). The watcher waits.
	ErrNodeBehind = errors.New("the node is behind the ledger")
	// ErrDeepReorg: no block the ledger remembers is on the node's best
	// chain any more. The watcher stops moving until an operator looks.
	ErrDeepReorg = errors.New("reorganisation deeper than the blocks the ledger remembers")
	// ErrNodeNetwork: the node runs another network than bitcoin.network.
	ErrNodeNetwork = errors.New("the node runs another network")
)

// Watcher follows a node's best chain and mempool and records payments to
// watched scripts in the ledger. Run it in one goroutine; Status, Poke and
// the Watch methods are safe from any goroutine.
type Watcher struct {
	node   Node
	ledger Ledger
	d      *Deriver
	cfg    WatcherConfig
	log    *slog.Logger
	set    *WatchSet
	poke   chan struct{}

	winMu     sync.Mutex
	maxIdx    int64 // highest derivation index allocated or paid; -1 none
	derivedTo int64 // gap window derived up to here

	stMu   sync.Mutex
	status chains.Status

	// Run-goroutine state.
	started     bool
	prevPool    map[string]bool
	lastRefresh time.Time
	lastAddrID  int64 // newest ledger address id at the last Refresh
	lastProg    time.Time
	progHeight  int64
}

// NewWatcher makes a watcher; Run starts it.
func NewWatcher(node Node, ledger Ledger, d *Deriver, cfg WatcherConfig) *Watcher {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 5 * time.Minute
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 5 * time.Second
	}
	if cfg.ReorgDepth <= 0 {
		cfg.ReorgDepth = 200
	}
	if cfg.GapLimit < 0 {
		cfg.GapLimit = 0
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{
		node: node, ledger: ledger, d: d, cfg: cfg, log: log.With("subsystem", "btc"),
		set: NewWatchSet(0), poke: make(chan struct{}, 1), maxIdx: -1, derivedTo: -1,
		status: chains.Status{Chain: chains.BTC, State: chains.Starting},
	}
}

// Poke asks for a poll now (for push notifications: ZMQ, websockets).
func (w *Watcher) Poke() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// Status is the watcher's health for the readiness check.
func (w *Watcher) Status() chains.Status {
	w.stMu.Lock()
	defer w.stMu.Unlock()
	return w.status
}

func (w *Watcher) setStatus(f func(s *chains.Status)) {
	w.stMu.Lock()
	f(&w.status)
	if w.status.NodeHeight >= w.status.Height {
		w.status.Behind = w.status.NodeHeight - w.status.Height
	} else {
		w.status.Behind = 0
	}
	w.stMu.Unlock()
}

// Run polls until ctx ends. Node trouble never ends it: it backs off
// (doubling up to MaxBackoff) and reports the trouble in Status.
func (w *Watcher) Run(ctx context.Context) error {
	failures := 0
	for {
		err := w.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := w.cfg.PollInterval
		if err != nil {
			failures++
			wait = w.cfg.PollInterval << min(failures, 16)
			if wait > w.cfg.MaxBackoff || wait <= 0 {
				wait = w.cfg.MaxBackoff
			}
			w.log.Warn("bitcoin node trouble; retrying", "err", err, "attempt", failures, "retry_in", wait)
		} else if failures > 0 {
			w.log.Info("bitcoin node reachable again", "after_attempts", failures)
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-w.poke:
			t.Stop()
		case <-t.C:
		}
	}
}

// Poll runs one round: blocks (with reorgs) first, then the mempool.
func (w *Watcher) Poll(ctx context.Context) error {
	err := w.poll(ctx)
	w.setStatus(func(s *chains.Status) { s.LastPoll = time.Now() })
	if err != nil {
		state := chains.Unreachable
		if errors.Is(err, ErrNodeBehind) || errors.Is(err, ErrDeepReorg) || IsWarmingUp(err) {
			state = chains.Behind
		}
		if ctx.Err() == nil {
			w.setStatus(func(s *chains.Status) { s.State, s.Error = state, err.Error() })
		}
	}
	return err
}

func (w *Watcher) poll(ctx context.Context) error {
	info, err := w.node.ChainInfo(ctx)
	if err != nil {
		return err
	}
	if !sameNetwork(info.Chain, w.d.net.Name) {
		return fmt.Errorf("%w: node chain %q, bitcoin.network %s", ErrNodeNetwork, info.Chain, w.d.net.Name)
	}
	w.setStatus(func(s *chains.Status) { s.NodeHeight = info.Blocks })
	if !w.started {
		if err := w.init(ctx, info); err != nil {
			return err
		}
	}
	if err := w.refreshWindow(ctx); err != nil {
		return err
	}
	if err := w.syncBlocks(ctx, info); err != nil {
		return err
	}
	if info.InitialBlockDownload {
		// The node's mempool means little before it has caught up.
		w.setStatus(func(s *chains.Status) { s.State, s.Error = chains.Behind, "node in initial block download" })
		return nil
	}
	if err := w.syncMempool(ctx); err != nil {
		return err
	}
	w.setStatus(func(s *chains.Status) {
		s.Error = ""
		if s.Height >= s.NodeHeight {
			s.State = chains.Synced
		} else {
			s.State = chains.Behind
		}
	})
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
	tip, ok, err := w.ledger.Tip(ctx, chains.BTC)
	if err != nil {
		return err
	}
	if !ok {
		start := chains.Block{Height: info.Blocks, Hash: info.BestBlockHash}
		if w.cfg.StartHeight > 0 {
			if w.cfg.StartHeight-1 > info.Blocks {
				return fmt.Errorf("%w: bitcoin.start_height %d is beyond the node's tip %d", ErrNodeBehind, w.cfg.StartHeight, info.Blocks)
			}
			h, err := w.node.BlockHash(ctx, w.cfg.StartHeight-1)
			if err != nil {
				return err
			}
			start = chains.Block{Height: w.cfg.StartHeight - 1, Hash: h}
		}
		if err := w.ledger.SetStart(ctx, chains.BTC, start); err != nil {
			return err
		}
		w.log.Info("first start: scanning from the block after", "height", start.Height, "hash", start.Hash)
		tip = start
	}
	w.setStatus(func(s *chains.Status) { s.Height = tip.Height })
	if err := w.Refresh(ctx); err != nil {
		return err
	}
	w.prevPool = map[string]bool{}
	w.started = true
	w.log.Info("watching", "scripts", w.set.Len(), "tip", tip.Height, "gap_limit", w.cfg.GapLimit, "type", w.d.typ)
	return nil
}

// Refresh loads every ledger address into the watch set and derives the
// gap window beyond the highest index. The set only grows.
func (w *Watcher) Refresh(ctx context.Context) error {
	lastID, err := w.ledger.LastAddressID(ctx)
	if err != nil {
		return err
	}
	addrs, err := w.ledger.Addresses(ctx, chains.BTC)
	if err != nil {
		return err
	}
	maxIdx := int64(-1)
	for _, a := range addrs {
		maxIdx = max(maxIdx, w.watchLedgerAddress(a))
	}
	w.lastRefresh, w.lastAddrID = time.Now(), lastID
	return w.extendWindow(maxIdx)
}

// watchLedgerAddress adds a ledger address to the watch set and returns
// its derivation index, or -1.
func (w *Watcher) watchLedgerAddress(a chains.Address) int64 {
	script, err := ValidateAddress(w.d.net, a.Address)
	if err != nil {
		w.log.Warn("ledger address is not watchable on this network", "address", a.Address, "err", err)
		return -1
	}
	e, idx := WatchEntry{}, int64(-1)
	if a.DerivationIndex != nil {
		e, idx = WatchEntry{Index: *a.DerivationIndex, Derived: true}, int64(*a.DerivationIndex)
	}
	if err := w.set.Add(script, e); err != nil {
		w.log.Warn("ledger address not watched", "address", a.Address, "err", err)
	}
	return idx
}

// refreshWindow follows allocations made by other processes: the gap
// window grows with the ledger's highest index; a jump past the derived
// window reloads every address.
func (w *Watcher) refreshWindow(ctx context.Context) error {
	m, err := w.ledger.HighestDerivationIndex(ctx, chains.BTC)
	if err != nil {
		return err
	}
	// Addresses recorded since the last look (by the API of this or another
	// process) are watched from this poll on, before its blocks are scanned.
	news, err := w.ledger.AddressesAfter(ctx, w.lastAddrID)
	if err != nil {
		return err
	}
	for _, a := range news {
		w.lastAddrID = max(w.lastAddrID, a.ID)
		if a.Chain == chains.BTC {
			m = max(m, w.watchLedgerAddress(a))
		}
	}
	w.winMu.Lock()
	jump := m > w.derivedTo
	w.winMu.Unlock()
	if jump || time.Since(w.lastRefresh) > w.cfg.RefreshInterval {
		return w.Refresh(ctx)
	}
	return w.extendWindow(m)
}

// extendWindow records idx as used and derives the indexes up to
// idx+GapLimit into the watch set (never the hole below a far index).
func (w *Watcher) extendWindow(idx int64) error {
	w.winMu.Lock()
	defer w.winMu.Unlock()
	if idx > w.maxIdx {
		w.maxIdx = idx
	}
	target := min(w.maxIdx+int64(w.cfg.GapLimit), int64(derivedBit-1))
	from := max(w.derivedTo+1, w.maxIdx+1)
	for i := from; i <= target; i++ {
		a, err := w.d.Derive(uint32(i))
		if err != nil {
			w.log.Warn("skipping underivable index", "index", i, "err", err)
			continue
		}
		if err := w.set.Add(a.Script, WatchEntry{Index: uint32(i), Derived: true}); err != nil {
			return err
		}
	}
	if target > w.derivedTo {
		w.derivedTo = target
	}
	return nil
}

// WatchDerived watches the address at derivation index (just allocated)
// and the gap window beyond it.
func (w *Watcher) WatchDerived(index uint32) error {
	a, err := w.d.Derive(index)
	if err != nil {
		return err
	}
	if err := w.set.Add(a.Script, WatchEntry{Index: index, Derived: true}); err != nil {
		return err
	}
	return w.extendWindow(int64(index))
}

// WatchAddress validates an arbitrary address for the configured network
// and watches it. The caller records it in the ledger (EnsureAddress with
// the canonical string, see CanonicalAddress) before payments can be
// credited to it.
func (w *Watcher) WatchAddress(addr string) error {
	script, err := ValidateAddress(w.d.net, addr)
	if err != nil {
		return err
	}
	return w.set.Add(script, WatchEntry{})
}

// WatchedScripts is the size of the watch set.
func (w *Watcher) WatchedScripts() int { return w.set.Len() }

// payments turns matches into ledger payments; derived addresses carry
// their index so a gap address is recorded on its first payment.
func payments(ms []Match) []chains.Payment {
	out := make([]chains.Payment, 0, len(ms))
	for _, m := range ms {
		p := chains.Payment{TxID: m.TxID, OutIndex: m.Vout, Address: m.Address, Amount: m.Amount}
		if m.Entry.Derived {
			idx := m.Entry.Index
			p.Watch = &chains.Address{Chain: chains.BTC, Address: m.Address, DerivationIndex: &idx}
		}
		out = append(out, p)
	}
	return out
}

// scan matches txs, growing the gap window when a payment lands beyond
// the highest used index and scanning again until nothing new is watched.
func (w *Watcher) scan(txs []*wire.MsgTx) ([]Match, error) {
	for {
		var ms []Match
		for _, tx := range txs {
			ms = w.set.ScanTx(ms, tx, w.d.net)
		}
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

// syncBlocks brings the ledger to the node's best chain: reorgs first,
// then every missing block, each in its own ledger transaction.
func (w *Watcher) syncBlocks(ctx context.Context, info ChainInfo) error {
	nodeHeight := info.Blocks
	for {
		tip, _, err := w.ledger.Tip(ctx, chains.BTC)
		if err != nil {
			return err
		}
		w.setStatus(func(s *chains.Status) { s.Height, s.NodeHeight = tip.Height, nodeHeight })
		reverted, err := w.handleReorg(ctx, tip, nodeHeight)
		if err != nil {
			return err
		}
		if reverted {
			continue
		}
		if tip.Height >= nodeHeight {
			// Caught up with what the node had when we asked; ask again
			// only if blocks may have arrived meanwhile.
			info, err := w.node.ChainInfo(ctx)
			if err != nil {
				return err
			}
			if info.Blocks <= nodeHeight {
				return nil
			}
			nodeHeight = info.Blocks
			continue
		}
		if err := w.connect(ctx, tip, nodeHeight); err != nil {
			return err
		}
	}
}

// connect applies blocks tip.Height+1 .. nodeHeight while each extends the
// previous one; it returns early (without error) when the node's chain
// changed under it, so the caller checks for a reorg again.
func (w *Watcher) connect(ctx context.Context, tip chains.Block, nodeHeight int64) error {
	catchUp := nodeHeight-tip.Height > 10
	if catchUp && w.lastProg.IsZero() {
		w.lastProg, w.progHeight = time.Now(), tip.Height
		w.log.Info("catching up", "height", tip.Height, "node_height", nodeHeight, "remaining", nodeHeight-tip.Height)
	}
	for h := tip.Height + 1; h <= nodeHeight; h++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hash, err := w.node.BlockHash(ctx, h)
		if IsNotFound(err) {
			return nil // the chain got shorter: check again
		}
		if err != nil {
			return err
		}
		raw, err := w.node.RawBlock(ctx, hash)
		if IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		blk, err := DecodeBlock(raw)
		if err != nil {
			return fmt.Errorf("block %d %s: %w", h, hash, err)
		}
		if got := blk.BlockHash().String(); got != hash {
			return fmt.Errorf("block %d: node sent %s for %s", h, got, hash)
		}
		if blk.Header.PrevBlock.String() != tip.Hash {
			return nil // a reorg happened between our calls
		}
		ms, err := w.scan(blk.Transactions)
		if err != nil {
			return err
		}
		b := chains.Block{Height: h, Hash: hash}
		ch, err := w.ledger.ApplyBlock(ctx, chains.BTC, b, payments(ms))
		if err != nil {
			return fmt.Errorf("record block %d: %w", h, err)
		}
		if len(ms) > 0 {
			w.log.Info("block with payments", "height", h, "hash", hash, "outputs", len(ms),
				"added", ch.DepositsAdded, "updated", ch.DepositsUpdated, "notifications", ch.Notifications)
		}
		tip = b
		w.setStatus(func(s *chains.Status) { s.Height = h })
		if catchUp && time.Since(w.lastProg) >= w.cfg.ProgressInterval {
			el := time.Since(w.lastProg).Seconds()
			w.log.Info("catching up", "height", h, "node_height", nodeHeight,
				"blocks_per_s", fmt.Sprintf("%.1f", float64(h-w.progHeight)/el), "remaining", nodeHeight-h)
			w.lastProg, w.progHeight = time.Now(), h
		}
	}
	if catchUp {
		w.log.Info("caught up", "height", nodeHeight)
		w.lastProg = time.Time{}
	}
	return nil
}

// handleReorg checks that the ledger's tip is on the node's best chain. If
// not, it walks back through the remembered blocks to the common ancestor
// and disconnects every block above it, newest first.
func (w *Watcher) handleReorg(ctx context.Context, tip chains.Block, nodeHeight int64) (bool, error) {
	if tip.Height <= nodeHeight {
		h, err := w.node.BlockHash(ctx, tip.Height)
		if err != nil && !IsNotFound(err) {
			return false, err
		}
		if h == tip.Hash {
			return false, nil
		}
	}
	recent, err := w.ledger.RecentBlocks(ctx, chains.BTC, w.cfg.ReorgDepth)
	if err != nil {
		return false, err
	}
	if tip.Height > nodeHeight {
		// A shorter node chain is a reorg only if it ends in a block we
		// processed (invalidateblock, a switch to a shorter chain with more
		// work); otherwise the node is syncing or lost its chain: wait.
		h, err := w.node.BlockHash(ctx, nodeHeight)
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
	anc := -1
	for i, b := range recent {
		if b.Height > nodeHeight {
			continue
		}
		h, err := w.node.BlockHash(ctx, b.Height)
		if err != nil {
			return false, err
		}
		if h == b.Hash {
			anc = i
			break
		}
	}
	if anc < 0 {
		return false, fmt.Errorf("%w (%d): none of them is on the node's best chain; check the node and bitcoin.network", ErrDeepReorg, len(recent))
	}
	pool, err := w.node.RawMempool(ctx)
	if err != nil {
		return false, err
	}
	w.log.Warn("reorganisation", "from_height", tip.Height, "common_ancestor", recent[anc].Height, "depth", anc)
	for i := 0; i < anc; i++ {
		b, parent := recent[i], recent[i+1]
		if parent.Height != b.Height-1 {
			return false, fmt.Errorf("%w: the ledger's remembered blocks have a gap at %d", ErrDeepReorg, parent.Height)
		}
		ch, err := w.ledger.RevertBlock(ctx, chains.BTC, b, parent, pool)
		if err != nil {
			return false, fmt.Errorf("revert block %d: %w", b.Height, err)
		}
		w.log.Warn("block disconnected", "height", b.Height, "hash", b.Hash,
			"deposits_unconfirmed", ch.DepositsUpdated, "deposits_orphaned", ch.DepositsRemoved)
		w.setStatus(func(s *chains.Status) { s.Height = parent.Height })
	}
	return true, nil
}

// syncMempool diffs the node's mempool with the previous poll (and with the
// ledger's mempool deposits), records payments of new transactions and
// orphans deposits whose transaction left without being mined.
func (w *Watcher) syncMempool(ctx context.Context) error {
	tip, _, err := w.ledger.Tip(ctx, chains.BTC)
	if err != nil {
		return err
	}
	before, err := w.node.BestBlockHash(ctx)
	if err != nil {
		return err
	}
	ids, err := w.node.RawMempool(ctx)
	if err != nil {
		return err
	}
	pool := make(map[string]bool, len(ids))
	for _, id := range ids {
		pool[id] = true
	}
	var txs []*wire.MsgTx
	for _, id := range ids {
		if w.prevPool[id] {
			continue
		}
		raw, err := w.node.RawTransaction(ctx, id)
		if IsNotFound(err) {
			delete(pool, id) // left already; looked at again if it returns
			continue
		}
		if err != nil {
			return err
		}
		var tx wire.MsgTx
		if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("mempool tx %s: %w", id, err)
		}
		txs = append(txs, &tx)
	}
	ms, err := w.scan(txs)
	if err != nil {
		return err
	}
	ledgerPool, err := w.ledger.MempoolTxIDs(ctx, chains.BTC)
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
	after, err := w.node.BestBlockHash(ctx)
	if err != nil {
		return err
	}
	if before != tip.Hash || after != before {
		// A block arrived that the ledger has not seen yet: a transaction that left the
		// mempool may have been mined. The next round connects the block
		// first and decides then.
		gone = nil
		w.Poke()
	}
	if len(ms) > 0 || len(gone) > 0 {
		ch, err := w.ledger.ApplyMempool(ctx, chains.BTC, payments(ms), gone)
		if err != nil {
			return fmt.Errorf("record mempool: %w", err)
		}
		if ch.DepositsAdded+ch.DepositsUpdated+ch.DepositsRemoved > 0 {
			w.log.Info("mempool", "outputs", len(ms), "added", ch.DepositsAdded, "orphaned", ch.DepositsRemoved,
				"notifications", ch.Notifications)
		}
	}
	w.prevPool = pool
	return nil
}

// Allocator hands out receive addresses and makes the watcher watch them.
type Allocator struct {
	d      *Deriver
	ledger AllocatorLedger
	watch  DerivedWatcher
}

// AllocatorLedger is what the allocator needs of the ledger (*db.Ledger).
type AllocatorLedger interface {
	AllocateAddress(ctx context.Context, c chains.Chain, derive func(index uint32) (string, error), label string) (chains.Address, error)
	EnsureAddress(ctx context.Context, a chains.Address) (chains.Address, error)
}

// DerivedWatcher is told about allocated indexes (*Watcher; nil when the
// watcher runs in another process: it follows the ledger by itself).
type DerivedWatcher interface {
	WatchDerived(index uint32) error
}

// NewAllocator makes an allocator; watch may be nil.
func NewAllocator(d *Deriver, ledger AllocatorLedger, watch DerivedWatcher) *Allocator {
	return &Allocator{d: d, ledger: ledger, watch: watch}
}

// Allocate records and returns the next unused address (a persisted counter
// that never hands out an index twice).
func (a *Allocator) Allocate(ctx context.Context, label string) (chains.Address, error) {
	addr, err := a.ledger.AllocateAddress(ctx, chains.BTC, a.d.Address, label)
	if err != nil {
		return chains.Address{}, err
	}
	return addr, a.watched(addr)
}

// AddressAt records and returns the address at a fixed index (e.g. a user
// id); asking again returns the same address.
func (a *Allocator) AddressAt(ctx context.Context, index uint32, label string) (chains.Address, error) {
	s, err := a.d.Address(index)
	if err != nil {
		return chains.Address{}, err
	}
	addr, err := a.ledger.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: s, DerivationIndex: &index, Label: label})
	if err != nil {
		return chains.Address{}, err
	}
	return addr, a.watched(addr)
}

func (a *Allocator) watched(addr chains.Address) error {
	if a.watch == nil || addr.DerivationIndex == nil {
		return nil
	}
	if err := a.watch.WatchDerived(*addr.DerivationIndex); err != nil {
		return fmt.Errorf("watch %s: %w", addr.Address, err)
	}
	return nil
}
