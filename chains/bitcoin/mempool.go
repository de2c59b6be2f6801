package bitcoin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
)

// The node's mempool, at a cost independent of its size in steady state:
//
//   - Push sources hand over new transactions (ids, or raw transactions
//     with ZMQ rawtx), which are fetched and scanned at the next round.
//   - A full look (getrawmempool, diffed with the transactions already
//     seen) runs at start, after a push source (re)connected or lost
//     messages, every PollInterval as a safety net while push works, and
//     while it does not whenever getmempoolinfo says the mempool changed.
//   - New transactions from a full look wait in a backlog fetched with
//     batched getrawtransaction, a time-bounded chunk per round: start-up
//     is ready once blocks are caught up, and a mainnet mempool is imported
//     in the background with progress lines.
//   - A transaction paying a watched address that left the mempool is
//     dropped only when the node's mempool can be trusted about it (loaded,
//     and the node up for more than RestartGrace), or at once when a
//     conflicting transaction is seen (a replacement in the mempool here,
//     a double spend in a block in the block source).

// mempoolLedger is what the mempool follower reads of the ledger.
type mempoolLedger interface {
	MempoolTxIDs(ctx context.Context, c chains.Chain) ([]string, error)
}

type mempoolConfig struct {
	// FullEvery is the safety full look's interval while push works.
	FullEvery time.Duration
	// Batch is how many transactions one getrawtransaction batch asks for.
	Batch int
	// Budget is the import time per round.
	Budget time.Duration
	// RestartGrace: after the node (re)started, a transaction missing from
	// its mempool is kept this long (btcd keeps no mempool; bitcoind may
	// not have saved it).
	RestartGrace     time.Duration
	ProgressInterval time.Duration
}

// inbox holds what push sources reported between rounds.
type inbox struct {
	mu      sync.Mutex
	txids   []chainhash.Hash
	raws    [][]byte
	removed []chainhash.Hash
	resync  bool
}

func (b *inbox) drain() (txids []chainhash.Hash, raws [][]byte, removed []chainhash.Hash, resync bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	txids, raws, removed, resync = b.txids, b.raws, b.removed, b.resync
	b.txids, b.raws, b.removed, b.resync = nil, nil, nil, false
	return
}

// mempoolFollower follows the node's mempool for one watcher; its methods
// other than the inbox's run on the watcher's rounds.
type mempoolFollower struct {
	cfg    mempoolConfig
	node   Node
	fam    *Family
	ledger mempoolLedger
	follow *chainsync.BlockFollower
	scan   func(txs []*wire.MsgTx, id func(int) chainhash.Hash) ([]Match, error)
	spends *spendWatch
	stats  *stats
	log    *slog.Logger
	poke   func()

	in inbox

	started   bool
	gen       uint32
	known     map[chainhash.Hash]uint32 // in the node's mempool at the last full look (gen), or seen since
	backlog   []chainhash.Hash
	lastFull  time.Time               // the last full look
	lastCheck time.Time               // the last safety check while push works
	lastInfo  MempoolInfo             // getmempoolinfo at the last full look
	bad       map[chainhash.Hash]bool // undecodable, logged once
	retries   map[chainhash.Hash]int  // fetches answered with an error
	imp       importProgress
	keptNote  string // the last "kept while untrusted" line logged

	resyncs atomic.Int64 // rounds that completed a resync a push source asked for
}

func newMempoolFollower(cfg mempoolConfig, node Node, fam *Family, l mempoolLedger, follow *chainsync.BlockFollower,
	scan func([]*wire.MsgTx, func(int) chainhash.Hash) ([]Match, error), spends *spendWatch, st *stats, log *slog.Logger, poke func()) *mempoolFollower {
	return &mempoolFollower{cfg: cfg, node: node, fam: fam, ledger: l, follow: follow, scan: scan, spends: spends,
		stats: st, log: log, poke: poke, known: map[chainhash.Hash]uint32{}, bad: map[chainhash.Hash]bool{}, retries: map[chainhash.Hash]int{}}
}

// resync asks for a full look at the next round.
func (m *mempoolFollower) resync() {
	m.in.mu.Lock()
	m.in.resync = true
	m.in.mu.Unlock()
}

// sync runs one round's mempool work, after the round brought the ledger
// to the node's best chain (tip); push says whether a push source works.
//
// A failure part way (the node or the ledger) may have lost what was
// taken from the inbox or the backlog: the follower then forgets what it
// saw and looks at the whole mempool again at the next round.
func (m *mempoolFollower) sync(ctx context.Context, tip chains.Block, push bool) (err error) {
	defer func() {
		if err != nil {
			clear(m.known)
			m.backlog, m.lastFull, m.imp = nil, time.Time{}, importProgress{}
			m.stats.backlog.Store(0)
		}
	}()
	if !m.started {
		if err := m.loadSpends(ctx); err != nil {
			return err
		}
		m.started = true
	}
	txids, raws, removed, resync := m.in.drain()
	defer func() {
		if err != nil && resync {
			m.resync() // still owed: the next round resyncs (and counts it)
		}
	}()
	for _, id := range removed {
		delete(m.known, id) // fetched again should it come back
	}
	var u chains.ChainUpdate
	// Pushed transactions first: they are what a customer just paid.
	for i, raw := range raws {
		raws[i] = nil // decoded once: the bytes need not live through the round
		tx, err := m.fam.Decoder.DecodeTx(raw)
		if errors.Is(err, ErrNoCanonicalPart) {
			continue // Litecoin MWEB-only: nothing to watch
		}
		if err != nil {
			m.undecodable(chainhash.DoubleHashH(raw), err)
			continue
		}
		m.known[tx.ID] = m.gen
		if err := m.handle(&u, []*wireTx{{id: tx.ID, msg: tx.Msg}}); err != nil {
			return err
		}
	}
	var fresh []chainhash.Hash
	for _, id := range txids {
		if _, ok := m.known[id]; !ok {
			m.known[id] = m.gen
			fresh = append(fresh, id)
		}
	}
	if err := m.fetch(ctx, &u, fresh); err != nil {
		return err
	}
	if err := m.record(ctx, &u); err != nil {
		return err
	}

	full, info, err := m.fullDue(ctx, resync, push)
	if err != nil {
		return err
	}
	if full {
		if err := m.fullLook(ctx, *info); err != nil {
			return err
		}
	}
	if err := m.importChunk(ctx, &u); err != nil {
		return err
	}
	if full || len(removed) > 0 {
		if err := m.judgeGone(ctx, &u, tip, full, removed); err != nil {
			return err
		}
	}
	if err := m.record(ctx, &u); err != nil {
		return err
	}
	if resync {
		m.resyncs.Add(1)
	}
	return nil
}

// record writes u's payments and dropped transactions, if any.
func (m *mempoolFollower) record(ctx context.Context, u *chains.ChainUpdate) error {
	if u.Empty() {
		return nil
	}
	ch, err := m.follow.Record(ctx, *u)
	if err != nil {
		return fmt.Errorf("record mempool: %w", err)
	}
	if ch.DepositsAdded+ch.DepositsUpdated+ch.DepositsRemoved > 0 {
		m.log.Info("mempool", "outputs", len(u.Mempool), "added", ch.DepositsAdded, "dropped", ch.DepositsRemoved,
			"notifications", ch.Notifications)
	}
	*u = chains.ChainUpdate{}
	return nil
}

// fullDue says whether this round looks at the whole mempool, with the
// node's getmempoolinfo when it asked for it.
//
// While push works the safety look comes every FullEvery and is skipped
// when the node's mempool has as many transactions as the watcher knows
// (push kept it up to date; a block that took transactions makes the
// counts differ), but not for longer than fullAtLeast looks in a row.
// While polling, getmempoolinfo each round says whether anything changed.
func (m *mempoolFollower) fullDue(ctx context.Context, resync, push bool) (bool, *MempoolInfo, error) {
	if !resync && !m.lastFull.IsZero() && push && time.Since(m.lastCheck) < m.cfg.FullEvery {
		return false, nil, nil
	}
	info, err := m.node.MempoolInfo(ctx)
	if err != nil {
		return false, nil, err
	}
	m.lastCheck = time.Now()
	switch {
	case resync || m.lastFull.IsZero():
		return true, &info, nil
	case push:
		if info.Size == int64(len(m.known)) && time.Since(m.lastFull) < fullAtLeast*m.cfg.FullEvery {
			return false, nil, nil
		}
		return true, &info, nil
	}
	changed := info.Size != m.lastInfo.Size || info.Bytes != m.lastInfo.Bytes || info.TotalFee != m.lastInfo.TotalFee
	return changed || time.Since(m.lastFull) >= m.cfg.FullEvery, &info, nil
}

// fullAtLeast: while push works, the whole mempool is looked at at least
// every fullAtLeast safety polls.
const fullAtLeast = 10

// fullLook lists the node's mempool and queues the transactions not seen
// yet; transactions no longer there are forgotten. info is the node's
// getmempoolinfo just before.
func (m *mempoolFollower) fullLook(ctx context.Context, info MempoolInfo) error {
	ids, err := m.node.RawMempool(ctx)
	if err != nil {
		return err
	}
	m.gen++
	var fresh []chainhash.Hash
	for _, id := range ids {
		if _, ok := m.known[id]; !ok {
			fresh = append(fresh, id)
		}
		m.known[id] = m.gen
	}
	added := len(fresh)
	if len(m.backlog) == 0 {
		m.backlog = fresh
	} else if added > 0 {
		// During a large import, what just arrived goes first: a customer's
		// payment does not wait for the rest of the mempool.
		m.backlog = append(fresh, m.backlog...)
	}
	for id, g := range m.known {
		if g != m.gen {
			delete(m.known, id)
		}
	}
	m.lastFull, m.lastInfo = time.Now(), info
	m.imp.queued(m, added)
	return nil
}

// judgeGone drops the unconfirmed deposits whose transaction left the
// node's mempool unmined, when the node's mempool can be trusted about
// that. full: a full look just ran (every deposit is checked); else only
// the transactions removed tells of.
func (m *mempoolFollower) judgeGone(ctx context.Context, u *chains.ChainUpdate, tip chains.Block, full bool, removed []chainhash.Hash) error {
	ours, err := m.ledger.MempoolTxIDs(ctx, m.fam.Chain)
	if err != nil {
		return err
	}
	live := make(map[chainhash.Hash]bool, len(ours))
	gone := map[chainhash.Hash]bool{}
	for _, id := range removed {
		gone[id] = true
	}
	var missing []string
	for _, s := range ours {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			continue
		}
		live[*h] = true
		_, inPool := m.known[*h]
		if (full && !inPool) || (!full && gone[*h]) {
			missing = append(missing, s)
		}
	}
	if full {
		m.spends.keep(live)
	}
	if len(missing) == 0 {
		return nil
	}
	// A block the ledger has not recorded yet may hold them: decide after
	// the next round has connected it.
	best, err := m.node.BestBlockHash(ctx)
	if err != nil {
		return err
	}
	if best != tip.Hash {
		m.poke()
		return nil
	}
	ok, why, err := m.trusted(ctx)
	if err != nil {
		return err
	}
	if !ok {
		if note := fmt.Sprint(len(missing), why); note != m.keptNote {
			m.keptNote = note
			m.log.Info("not dropping unconfirmed payments that left the node's mempool: they are dropped when a conflicting spend is seen, or later if still missing",
				"transactions", len(missing), "reason", why)
		}
		return nil
	}
	m.keptNote = ""
	for _, s := range missing {
		u.Gone = append(u.Gone, chains.Gone{TxID: s, Reason: chains.ReasonDropped})
		if h, err := chainhash.NewHashFromStr(s); err == nil {
			m.spends.remove(*h)
		}
	}
	return nil
}

// trusted says whether a transaction missing from the node's mempool is
// really gone: the node has loaded its saved mempool (bitcoind) and has
// been up for RestartGrace (btcd keeps no mempool across restarts; a
// bitcoind that crashed saved none).
func (m *mempoolFollower) trusted(ctx context.Context) (bool, string, error) {
	info, err := m.node.MempoolInfo(ctx)
	if err != nil {
		return false, "", err
	}
	if info.Loaded != nil && !*info.Loaded {
		return false, "the node has not loaded its saved mempool yet (getmempoolinfo loaded=false)", nil
	}
	up, err := m.node.Uptime(ctx)
	if err != nil {
		return false, "", err
	}
	// uptime is in whole seconds: the node may be up to a second older.
	if up := time.Duration(up) * time.Second; up+time.Second <= m.cfg.RestartGrace {
		return false, fmt.Sprintf("the node started %s ago and may not know every transaction it had before (kept until it has run %s)",
			up, m.cfg.RestartGrace), nil
	}
	return true, "", nil
}
