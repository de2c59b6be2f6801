package monero

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/ledger"
)

// WatcherLedger is what the watcher needs of the ledger (*db.Ledger).
type WatcherLedger interface {
	Tip(ctx context.Context, c chains.Chain) (chains.Block, bool, error)
	RecentBlocks(ctx context.Context, c chains.Chain, n int) ([]chains.Block, error)
	// AddressesAfter follows the recorded addresses (a transfer's address
	// and index are checked against them).
	AddressesAfter(ctx context.Context, afterID int64) ([]chains.Address, error)
	// Balance reads an address's deposits (only for implausibly large
	// amounts, see MaxTransferAmount).
	Balance(ctx context.Context, c chains.Chain, addr string, maxConfirms int) (ledger.Totals, []ledger.Deposit, error)
	// WindowDeposits lists the live deposits a reconcile from fromHeight
	// would orphan when unseen (read only when a poll skipped transfers).
	WindowDeposits(ctx context.Context, c chains.Chain, fromHeight int64) ([]ledger.Deposit, error)
	chainsync.WindowLedger
}

// Metrics counts what the watcher does besides ledger writes
// (*metrics.Registry).
type Metrics interface {
	// ChainPoll counts one poll: PollChangeCheck, or a wallet poll by
	// what triggered it (PollInterval, PollPush, PollChange, PollSafety,
	// PollPoolAgain).
	ChainPoll(c chains.Chain, kind string)
	// ChainPushEvent counts one event from monerod's ZMQ publisher.
	ChainPushEvent(c chains.Chain, event string)
	// ChainTransferSkipped counts one transfer that could not be stored.
	ChainTransferSkipped(c chains.Chain, reason string)
	// ChainPush says whether the push source (FeedZMQ: monerod's
	// publisher) is connected.
	ChainPush(c chains.Chain, source string, up bool)
}

// Poll kinds (Metrics.ChainPoll).
const (
	PollChangeCheck = "change_check" // monerod asked whether anything changed; the wallet was not polled
	PollInterval    = "interval"     // wallet poll every poll_interval (no push)
	PollPush        = "push"         // wallet poll on a push event
	PollChange      = "change"       // wallet poll because the change check saw a change
	PollSafety      = "safety"       // wallet poll every SafetyInterval with push on
	PollPoolAgain   = "pool_again"   // wallet poll reading the pool right after a block's quick poll
)

// DefaultSafetyInterval is how often a watcher with push on polls the
// wallet even when nothing seemed to change.
const DefaultSafetyInterval = 30 * time.Second

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	// Account is the wallet account watched (monero.account_index).
	Account uint32
	// PollInterval is the time between polls (monero.poll_interval;
	// default 1 s). With push connected, the poll between events is only
	// the change check against monerod.
	PollInterval time.Duration
	// SafetyInterval: with push connected, the wallet is polled at least
	// this often (default 30 s).
	SafetyInterval time.Duration
	// ReorgWindow is how many blocks below the last scanned height every
	// poll re-reads (monero.reorg_window; default 10). A deeper reorg is
	// still caught by comparing recent block hashes.
	ReorgWindow int64
	// MaxBackoff caps the wait between failing polls (default 30 s).
	MaxBackoff time.Duration
	// ZMQPub is monerod's ZMQ publisher endpoint (monero.daemon_zmq_pub);
	// empty: no push, the wallet is polled every PollInterval.
	ZMQPub string
	// Gate, when set, holds the first poll until the start checks passed
	// (Starter); until then Status is the gate's.
	Gate Gate
	// Hooks hear of every ledger write (metrics, the IPN worker).
	Hooks chainsync.Hooks
	// Metrics counts polls, push events and skipped transfers; optional.
	Metrics Metrics
	Logger  *slog.Logger
}

// Gate is what the watcher waits for before its first poll (*Starter).
type Gate interface {
	Ready() <-chan struct{}
	Status() chains.Status
}

// maxHeight is get_transfers' max_height: "no upper bound"; also the
// highest chain height the watcher believes (2^40 blocks are two million
// years of Monero).
const maxHeight = int64(1) << 40

// Watcher polls the wallet's incoming transfers of one account and reconciles
// them into the ledger. Run it in one goroutine; Status, Poke and the push
// methods are safe from any goroutine.
type Watcher struct {
	*chainsync.Loop // Poll, Poke, SetStatus

	wallet *WalletClient
	daemon *DaemonClient
	ledger WatcherLedger
	window chainsync.Window
	cfg    WatcherConfig
	log    *slog.Logger

	// Push state, set from the push goroutine.
	push           *Push // nil without ZMQPub
	pushConfigured atomic.Bool
	pushUp         atomic.Bool
	pushed         atomic.Bool // an event asked for a wallet poll
	poolAgain      atomic.Bool // a block's quick poll asked for one with the pool

	// Round state (the loop runs one round at a time).
	refreshedAt int64    // daemon height at the last successful refresh
	lastWrite   [32]byte // fingerprint of the last reconcile written
	lastPolled  Info     // monerod's state at the last successful wallet poll
	lastFull    time.Time
	lastFailed  bool
	lastPool    []chains.Payment // the pool payments of the last poll that read the pool
	poolKnown   bool
	book        addressBook
	skipSeen    map[string]bool // skipped transfers already logged and counted
}

// NewWatcher returns a watcher; call Run (or Poll).
func NewWatcher(w *WalletClient, d *DaemonClient, l WatcherLedger, c WatcherConfig) *Watcher {
	if c.ReorgWindow <= 0 {
		c.ReorgWindow = 10
	}
	if c.SafetyInterval <= 0 {
		c.SafetyInterval = DefaultSafetyInterval
	}
	wt := &Watcher{
		wallet: w, daemon: d, ledger: l, cfg: c, log: logger(c.Logger), skipSeen: map[string]bool{},
		window: chainsync.Window{Chain: chains.XMR, Ledger: l, Hooks: c.Hooks},
	}
	poll := c.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	wt.Loop = chainsync.NewLoop(chainsync.LoopConfig{
		Chain: chains.XMR, PollInterval: poll, MaxBackoff: c.MaxBackoff, Classify: classify, Logger: wt.log,
		// Not ready when no round succeeded and no push event came for this
		// long (a wallet-rpc or monerod that hangs), as for every chain.
		StaleAfter: max(3*poll, 30*time.Second),
	}, wt.round)
	return wt
}

// NewWatcherWithPush is NewWatcher plus, when c.ZMQPub is set, the
// subscription to monerod's publisher that Run starts.
func NewWatcherWithPush(w *WalletClient, d *DaemonClient, l WatcherLedger, c WatcherConfig) (*Watcher, error) {
	wt := NewWatcher(w, d, l, c)
	if c.ZMQPub != "" {
		p, err := NewPush(c.ZMQPub, wt, c.Logger)
		if err != nil {
			return nil, err
		}
		wt.push = p
	}
	return wt, nil
}

// Run waits for the start checks (WatcherConfig.Gate), then listens to
// monerod's publisher (if configured) and polls until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	if w.cfg.Gate != nil {
		select {
		case <-w.cfg.Gate.Ready():
		case <-ctx.Done():
			return nil
		}
	}
	if w.push != nil {
		pushCtx, stopPush := context.WithCancel(ctx)
		done := make(chan struct{})
		defer func() { stopPush(); <-done }()
		go func() { defer close(done); _ = w.push.Run(pushCtx) }()
	}
	return w.Loop.Run(ctx)
}

// Status is the watcher's health for /readyz and the metrics: the start
// gate's until the checks passed.
func (w *Watcher) Status() chains.Status {
	if g := w.cfg.Gate; g != nil {
		select {
		case <-g.Ready():
		default:
			st := g.Status()
			st.Feed = w.feed()
			return st
		}
	}
	st := w.Loop.Status()
	st.Feed = w.feed()
	return st
}

// Feed values of a Monero watcher's status (chains.Status.Feed): how it
// hears of new blocks and transactions.
const (
	FeedZMQ     = "zmq"     // monerod's publisher is connected
	FeedPolling = "polling" // push configured but the publisher is down: the wallet is polled every poll interval
)

// feed is the status's Feed: "" without push configured.
func (w *Watcher) feed() string {
	switch {
	case !w.pushConfigured.Load():
		return ""
	case w.pushUp.Load():
		return FeedZMQ
	}
	return FeedPolling
}

// classify is the state a failed poll is reported as: unreachable when
// wallet-rpc or monerod does not answer (or refuses the credentials, or
// answers 404 at the configured URL), behind otherwise (the daemon is
// syncing or the wallet is still scanning).
func classify(err error) chains.SyncState {
	if errors.Is(err, ErrWalletBehind) {
		return chains.Behind
	}
	if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrWrongPath) {
		return chains.Unreachable
	}
	return chains.Behind
}

// ErrWalletBehind: the wallet has not scanned up to the daemon's height yet;
// the poll is skipped so transfers it has not seen are not taken as gone.
var ErrWalletBehind = errors.New("wallet is still scanning")

// round runs one round. With push connected, between push events and
// safety polls, it only asks monerod whether its tip or pool changed since
// the last wallet poll (one get_info) and polls the wallet when something
// did; otherwise (no push, publisher down, a push event, the last round
// failed, SafetyInterval passed) it polls the wallet (see poll).
func (w *Watcher) round(ctx context.Context) error {
	kind := PollInterval
	var info *Info
	switch {
	case w.pushed.Swap(false):
		kind = PollPush
		w.poolAgain.Store(false)
	case w.poolAgain.Swap(false):
		kind = PollPoolAgain
	case !w.pushUp.Load() || w.lastFailed:
	case time.Since(w.lastFull) >= w.cfg.SafetyInterval:
		kind = PollSafety
	default:
		i, err := w.getInfo(ctx)
		if err != nil {
			w.lastFailed = true
			return err
		}
		w.count(PollChangeCheck)
		if i.sameState(w.lastPolled) {
			w.setSynced(i)
			return nil
		}
		kind, info = PollChange, &i
	}
	w.count(kind)
	err := w.pollWallet(ctx, info)
	w.lastFailed = err != nil
	if err == nil {
		w.lastFull = time.Now()
	}
	return err
}

// sameState: monerod's tip and pool size are what they were.
func (i Info) sameState(o Info) bool {
	return i.Height == o.Height && i.TopBlockHash == o.TopBlockHash && i.TxPoolSize == o.TxPoolSize && o.Height > 0
}

func (w *Watcher) count(kind string) {
	if w.cfg.Metrics != nil {
		w.cfg.Metrics.ChainPoll(chains.XMR, kind)
	}
}

// PushEvent is called for each event of monerod's publisher: a message of
// a subscribed topic or a resync after (re)connecting; it counts it and
// has the wallet polled now.
func (w *Watcher) PushEvent(event string) {
	if w.cfg.Metrics != nil {
		w.cfg.Metrics.ChainPushEvent(chains.XMR, event)
	}
	w.Alive()
	w.pushed.Store(true)
	w.Poke()
}

// SetPush records whether monerod's publisher is configured and connected:
// while it is not, the wallet is polled every poll interval.
func (w *Watcher) SetPush(configured, connected bool) {
	w.pushConfigured.Store(configured)
	was := w.pushUp.Swap(connected && configured)
	if configured && w.cfg.Metrics != nil {
		w.cfg.Metrics.ChainPush(chains.XMR, FeedZMQ, connected)
	}
	if was && !connected {
		w.Poke() // poll now rather than wait a change check's interval
	}
}

// reportSkipped logs and counts each skipped transfer once.
func (w *Watcher) reportSkipped(skips []skipped) {
	for _, s := range skips {
		if w.skipSeen[s.key()] {
			continue
		}
		if len(w.skipSeen) >= 10_000 {
			clear(w.skipSeen) // bounded: a hostile wallet could report endless variants
		}
		w.skipSeen[s.key()] = true
		w.log.Warn("monero transfer skipped: it cannot be stored; every other transfer proceeds",
			"category", s.category, "txid", s.txid, "address", s.address, "reason", s.reason, "detail", s.detail)
		if w.cfg.Metrics != nil {
			w.cfg.Metrics.ChainTransferSkipped(chains.XMR, s.reason)
		}
	}
}
