package monero

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
)

// WatcherLedger is what the watcher needs of the ledger (*db.Ledger).
type WatcherLedger interface {
	Tip(ctx context.Context, c chains.Chain) (chains.Block, bool, error)
	RecentBlocks(ctx context.Context, c chains.Chain, n int) ([]chains.Block, error)
	chainsync.WindowLedger
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
	// Hooks hear of every ledger write (metrics, the IPN worker).
	Hooks  chainsync.Hooks
	Logger *slog.Logger
}

// maxHeight is get_transfers' max_height: "no upper bound".
const maxHeight = int64(1) << 40

// Watcher polls the wallet's incoming transfers of one account and reconciles
// them into the ledger. Run it in one goroutine; Status and Poke are safe
// from any goroutine.
type Watcher struct {
	*chainsync.Loop // Run, Poll, Poke, Status

	wallet *WalletClient
	daemon *DaemonClient
	ledger WatcherLedger
	window chainsync.Window
	cfg    WatcherConfig
	log    *slog.Logger

	// Round state (the loop runs one round at a time).
	refreshedAt int64    // daemon height at the last successful refresh
	lastWrite   [32]byte // fingerprint of the last reconcile written
}

// NewWatcher returns a watcher; call Run (or Poll).
func NewWatcher(w *WalletClient, d *DaemonClient, l WatcherLedger, c WatcherConfig) *Watcher {
	if c.ReorgWindow <= 0 {
		c.ReorgWindow = 10
	}
	wt := &Watcher{
		wallet: w, daemon: d, ledger: l, cfg: c, log: logger(c.Logger),
		window: chainsync.Window{Chain: chains.XMR, Ledger: l, Hooks: c.Hooks},
	}
	wt.Loop = chainsync.NewLoop(chainsync.LoopConfig{
		Chain: chains.XMR, PollInterval: c.PollInterval, MaxBackoff: c.MaxBackoff, Classify: classify, Logger: wt.log,
	}, wt.round)
	return wt
}

// classify is the state a failed poll is reported as: unreachable when
// wallet-rpc or monerod does not answer (or refuses the credentials),
// behind otherwise (the daemon is syncing or the wallet is still scanning).
func classify(err error) chains.SyncState {
	if errors.Is(err, ErrWalletBehind) {
		return chains.Behind
	}
	if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUnauthorized) {
		return chains.Unreachable
	}
	return chains.Behind
}

// ErrWalletBehind: the wallet has not scanned up to the daemon's height yet;
// the poll is skipped so transfers it has not seen are not taken as gone.
var ErrWalletBehind = errors.New("wallet is still scanning")

// round runs one poll: the daemon's state; a wallet refresh when the
// daemon's height moved (or the wallet is behind it); get_transfers of the
// account (in and pool) above the last scanned height minus the reorg
// window; and one ledger write reconciling that window. Its cost depends on
// the window, not on the wallet's history.
func (w *Watcher) round(ctx context.Context) error {
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
	w.SetNodeHeight(target - 1)

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
	change, err := w.window.Reconcile(ctx, tip, from, payments)
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
	w.SetStatus(func(s *chains.Status) { s.Height, s.NodeHeight = tip.Height, target-1 })
	note := ""
	if info.BusySyncing {
		note = "monerod is busy syncing"
	}
	w.RoundDone(info.BusySyncing || !info.Synchronized, note)
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
	// The daemon's hash at a height; its tip's is known already.
	hashAt := func(ctx context.Context, h int64) (string, error) {
		if h == tip.Height {
			return tip.Hash, nil
		}
		hdr, err := w.daemon.BlockHeaderByHeight(ctx, h)
		if err != nil {
			return "", fmt.Errorf("monerod: %w", err)
		}
		return hdr.Hash, nil
	}
	anc, err := chainsync.CommonAncestor(ctx, recent, tip.Height, hashAt)
	if err != nil {
		return 0, err
	}
	fork := int64(-1)
	if anc >= 0 {
		fork = recent[anc].Height
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
