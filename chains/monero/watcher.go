package monero

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// WatcherLedger is what the watcher needs of the ledger (*db.Ledger).
type WatcherLedger interface {
	Tip(ctx context.Context, c chains.Chain) (chains.Block, bool, error)
	RecentBlocks(ctx context.Context, c chains.Chain, n int) ([]chains.Block, error)
	ReconcileWindow(ctx context.Context, c chains.Chain, tip chains.Block, fromHeight int64, seen []chains.Payment) (chains.Change, error)
}

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	// Account is the wallet account watched (monero.account_index).
	Account uint32
	// PollInterval is the time between polls (monero.poll_interval;
	// default 1 s).
	PollInterval time.Duration
	// ReorgWindow is how many blocks below the last scanned height every
	// poll re-reads (monero.reorg_window; default 10). A deeper reorg is
	// still caught by comparing recent block hashes.
	ReorgWindow int64
	// MaxBackoff caps the wait between failing polls (default 30 s).
	MaxBackoff time.Duration
	Logger     *slog.Logger
}

// maxHeight is get_transfers' max_height: "no upper bound".
const maxHeight = int64(1) << 40

// Watcher polls the wallet's incoming transfers of one account and reconciles
// them into the ledger.
type Watcher struct {
	wallet *WalletClient
	daemon *DaemonClient
	ledger WatcherLedger
	cfg    WatcherConfig
	log    *slog.Logger

	pollMu      sync.Mutex // one poll at a time
	refreshedAt int64      // daemon height at the last successful refresh
	lastWrite   [32]byte   // fingerprint of the last ReconcileWindow written

	mu     sync.Mutex
	status chains.Status
}

// NewWatcher returns a watcher; call Run (or Poll).
func NewWatcher(w *WalletClient, d *DaemonClient, l WatcherLedger, c WatcherConfig) *Watcher {
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.ReorgWindow <= 0 {
		c.ReorgWindow = 10
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	return &Watcher{
		wallet: w, daemon: d, ledger: l, cfg: c, log: logger(c.Logger),
		status: chains.Status{Chain: chains.XMR, State: chains.Starting},
	}
}

// Status reports the last poll's outcome: synced, behind (the daemon is
// syncing or the wallet is still scanning) or unreachable.
func (w *Watcher) Status() chains.Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *Watcher) setStatus(f func(s *chains.Status)) {
	w.mu.Lock()
	f(&w.status)
	w.mu.Unlock()
}

// Run polls until ctx ends. Failures are logged and retried with a capped
// exponential back-off; Run returns nil when ctx is cancelled.
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
			wait = min(w.cfg.PollInterval<<min(failures, 16), w.cfg.MaxBackoff)
			lvl := slog.LevelWarn
			if failures > 1 && failures%10 != 0 {
				lvl = slog.LevelDebug // keep logs readable during a long outage
			}
			w.log.Log(ctx, lvl, "monero poll failed", "err", err, "failures", failures, "retry_in", wait)
		} else {
			if failures > 0 {
				w.log.Info("monero poll recovered", "after_failures", failures)
			}
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// ErrWalletBehind: the wallet has not scanned up to the daemon's height yet;
// the poll is skipped so transfers it has not seen are not taken as gone.
var ErrWalletBehind = errors.New("wallet is still scanning")

// Poll runs one poll: the daemon's state; a wallet refresh when the daemon's
// height moved (or the wallet is behind it); get_transfers of the account
// (in and pool) above the last scanned height minus the reorg window; and one
// ledger write reconciling that window. Its cost depends on the window, not
// on the wallet's history.
func (w *Watcher) Poll(ctx context.Context) error {
	w.pollMu.Lock()
	defer w.pollMu.Unlock()
	var err error
	for try := 0; try < 3; try++ {
		var moved bool
		moved, err = w.poll(ctx)
		if err != nil || !moved {
			break
		}
		// The chain moved during the poll: what the wallet said may mix two
		// tips; read again rather than record a blend.
	}
	w.setStatus(func(s *chains.Status) { s.LastPoll = time.Now() })
	if err != nil {
		state := chains.Behind
		if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUnauthorized) {
			state = chains.Unreachable
		}
		if errors.Is(err, ErrWalletBehind) {
			state = chains.Behind
		}
		w.setStatus(func(s *chains.Status) { s.State, s.Error = state, err.Error() })
	}
	return err
}

// poll returns moved=true when the daemon's tip changed while polling (the
// caller polls again).
func (w *Watcher) poll(ctx context.Context) (moved bool, err error) {
	info, err := w.daemon.GetInfo(ctx)
	if err != nil {
		return false, fmt.Errorf("monerod: %w", err)
	}
	if info.Height < 1 || info.TopBlockHash == "" {
		return false, fmt.Errorf("monerod get_info: no chain yet (height %d)", info.Height)
	}
	tip := chains.Block{Height: info.Height - 1, Hash: info.TopBlockHash}
	target := max(info.TargetHeight, info.Height)
	w.setStatus(func(s *chains.Status) { s.NodeHeight = target - 1 })

	wh, err := w.wallet.GetHeight(ctx)
	if err != nil {
		return false, fmt.Errorf("wallet: %w", err)
	}
	if info.Height != w.refreshedAt || wh < info.Height {
		if _, err := w.wallet.Refresh(ctx); err != nil {
			return false, fmt.Errorf("wallet refresh: %w", err)
		}
		if wh, err = w.wallet.GetHeight(ctx); err != nil {
			return false, fmt.Errorf("wallet: %w", err)
		}
	}
	if wh < info.Height {
		return false, fmt.Errorf("%w: wallet at height %d, daemon at %d", ErrWalletBehind, wh, info.Height)
	}
	w.refreshedAt = info.Height

	from, err := w.windowStart(ctx, tip)
	if err != nil {
		return false, err
	}
	tr, err := w.wallet.GetTransfers(ctx, TransfersQuery{
		In: true, Pool: true, Account: w.cfg.Account,
		FilterByHeight: true, MinHeight: from, MaxHeight: maxHeight,
	})
	if err != nil {
		return false, fmt.Errorf("wallet get_transfers: %w", err)
	}
	after, err := w.daemon.GetInfo(ctx)
	if err != nil {
		return false, fmt.Errorf("monerod: %w", err)
	}
	if after.Height != info.Height || after.TopBlockHash != info.TopBlockHash {
		return true, nil
	}
	payments := w.payments(tr)
	// Nothing moved since the last recorded poll (same tip, window and
	// transfers): the write would change nothing, skip it.
	fp := fingerprint(tip, from, payments)
	if fp == w.lastWrite {
		w.setSynced(info, tip, target)
		return false, nil
	}
	change, err := w.ledger.ReconcileWindow(ctx, chains.XMR, tip, from, payments)
	if err != nil {
		w.lastWrite = [32]byte{}
		return false, fmt.Errorf("ledger: %w", err)
	}
	w.lastWrite = fp
	if change != (chains.Change{}) {
		w.log.Info("monero payments reconciled", "tip", tip.Height, "from_height", from, "seen", len(payments),
			"added", change.DepositsAdded, "updated", change.DepositsUpdated, "removed", change.DepositsRemoved,
			"notifications", change.Notifications)
	}
	w.setSynced(info, tip, target)
	return false, nil
}

func (w *Watcher) setSynced(info Info, tip chains.Block, target int64) {
	state := chains.Synced
	if info.BusySyncing || !info.Synchronized || target > info.Height {
		state = chains.Behind
	}
	w.setStatus(func(s *chains.Status) {
		s.State, s.Height, s.NodeHeight, s.Behind, s.Error = state, tip.Height, target-1, target-info.Height, ""
		if info.BusySyncing {
			s.Error = "monerod is busy syncing"
		}
	})
}

// fingerprint identifies what a ReconcileWindow call would write.
func fingerprint(tip chains.Block, from int64, ps []chains.Payment) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d %s %d\n", tip.Height, tip.Hash, from)
	for _, p := range ps {
		fmt.Fprintf(h, "%s %s %d %d %d %t\n", p.TxID, p.Address, p.Amount, p.Height, p.UnlockTime, p.DoubleSpend)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// windowStart is the exclusive min_height of this poll: the last scanned
// height minus the reorg window, lowered to the fork point when a block the
// ledger recorded is no longer on the daemon's chain.
func (w *Watcher) windowStart(ctx context.Context, tip chains.Block) (int64, error) {
	stored, ok, err := w.ledger.Tip(ctx, chains.XMR)
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	if !ok {
		return 0, nil // first start: read the account's whole history once
	}
	from := min(stored.Height, tip.Height) - w.cfg.ReorgWindow
	if stored == tip {
		return max(from, 0), nil
	}
	// Is the stored tip still on the chain? Usually one header call.
	recent, err := w.ledger.RecentBlocks(ctx, chains.XMR, 64)
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	fork := int64(-1)
	for _, b := range recent {
		if b.Height > tip.Height {
			continue // above the daemon's tip: gone
		}
		if b.Height == tip.Height {
			if b.Hash == tip.Hash {
				fork = b.Height
				break
			}
			continue
		}
		h, err := w.daemon.BlockHeaderByHeight(ctx, b.Height)
		if err != nil {
			return 0, fmt.Errorf("monerod: %w", err)
		}
		if h.Hash == b.Hash {
			fork = b.Height
			break
		}
	}
	if fork < 0 && len(recent) > 0 {
		fork = 0 // deeper than every recorded block: re-read everything once
		w.log.Warn("monero reorg deeper than the recorded blocks; re-reading the account's whole history",
			"stored_tip", stored.Height, "tip", tip.Height)
	}
	if fork >= 0 && fork < stored.Height {
		w.log.Warn("monero reorg", "fork_height", fork, "old_tip", stored.Height, "new_tip", tip.Height)
		from = min(from, fork)
	}
	return max(from, 0), nil
}

// payments turns the wallet's transfers into ledger payments, one per
// (txid, subaddress). A transaction reported both mined and in the pool
// counts as mined.
func (w *Watcher) payments(tr Transfers) []chains.Payment {
	type key struct {
		txid  string
		minor uint32
	}
	seen := make(map[key]int, len(tr.In)+len(tr.Pool))
	out := make([]chains.Payment, 0, len(tr.In)+len(tr.Pool))
	add := func(t Transfer, pool bool) {
		if t.SubaddrIndex.Major != w.cfg.Account || t.TxID == "" || t.Address == "" {
			return
		}
		k := key{t.TxID, t.SubaddrIndex.Minor}
		height := t.Height
		if pool {
			height = 0
		}
		acct, sub := t.SubaddrIndex.Major, t.SubaddrIndex.Minor
		p := chains.Payment{
			TxID: t.TxID, Address: t.Address, Amount: t.Amount, UnlockTime: t.UnlockTime,
			DoubleSpend: t.DoubleSpendSeen, Height: height,
			// A payment to a subaddress of the account this ledger has not
			// recorded (handed out by an earlier install, or the account's
			// base address) is recorded rather than lost.
			Watch: &chains.Address{Chain: chains.XMR, AccountIndex: &acct, SubaddressIndex: &sub, Label: "seen by watcher"},
		}
		if i, dup := seen[k]; dup {
			if out[i].Height == 0 && height > 0 {
				out[i] = p
			}
			return
		}
		seen[k] = len(out)
		out = append(out, p)
	}
	for _, t := range tr.In {
		add(t, false)
	}
	for _, t := range tr.Pool {
		add(t, true)
	}
	return out
}
