package monero

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// ErrNotReady: the start checks have not passed yet (wallet-rpc has not
// answered since ipnd started); the API answers 503.
var ErrNotReady = errors.New("the Monero wallet is not ready yet")

// StarterConfig configures a Starter.
type StarterConfig struct {
	AllocatorConfig
	// MinBackoff and MaxBackoff bound the wait between attempts while
	// wallet-rpc does not answer (defaults 250 ms and 5 s): the checks run
	// within seconds of the wallet coming up.
	MinBackoff, MaxBackoff time.Duration
}

// Starter runs the start checks of a Monero setup as soon as it can and
// holds the Allocator they produce. While wallet-rpc does not answer (not
// started yet, restarting, no wallet open, refusing the login) it retries
// with a capped back-off and reports the trouble in Status, as the Bitcoin
// watcher does for its node. What no retry can fix stops it with a clear
// error: a wallet that can spend (with require_view_only), another wallet
// than the ledger's addresses came from, or a URL whose path answers 404.
type Starter struct {
	wallet *WalletClient
	daemon *DaemonClient
	ledger AllocatorLedger
	cfg    StarterConfig
	log    *slog.Logger

	ready chan struct{}
	alloc atomic.Pointer[Allocator]

	mu     sync.Mutex
	status chains.Status
}

// NewStarter returns a Starter; Run runs the checks. daemon may be nil; when
// set it is asked once whether its URL is right.
func NewStarter(w *WalletClient, d *DaemonClient, l AllocatorLedger, c StarterConfig) *Starter {
	if c.MinBackoff <= 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(5*time.Second, c.MinBackoff)
	}
	return &Starter{wallet: w, daemon: d, ledger: l, cfg: c, log: logger(c.Logger), ready: make(chan struct{}),
		status: chains.Status{Chain: chains.XMR, State: chains.Starting, Error: "waiting for the start checks (wallet-rpc)"}}
}

// Run runs the start checks until they pass (it then returns nil and Ready
// is closed) or ctx ends (nil); a check that fails for good returns its
// error.
func (s *Starter) Run(ctx context.Context) error {
	wait, failures, daemonOK := s.cfg.MinBackoff, 0, s.daemon == nil
	for {
		if !daemonOK {
			_, err := s.daemon.GetInfo(ctx)
			if errors.Is(err, ErrWrongPath) {
				return err
			}
			daemonOK = err == nil // unreachable now: the watcher reports it; asked again next attempt
		}
		alloc, err := NewAllocator(ctx, s.wallet, s.ledger, s.cfg.AllocatorConfig)
		if err == nil {
			s.alloc.Store(alloc)
			s.mu.Lock()
			s.status = chains.Status{Chain: chains.XMR, State: chains.Starting, Error: "start checks passed"}
			s.mu.Unlock()
			close(s.ready)
			if failures > 0 {
				s.log.Info("wallet-rpc answered; the start checks passed", "after_attempts", failures+1)
			}
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrSpendingWallet) || errors.Is(err, ErrOtherWallet) || errors.Is(err, ErrWrongPath) {
			return err
		}
		failures++
		state := chains.Starting
		if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUnauthorized) {
			state = chains.Unreachable
		}
		if IsRPCCode(err, CodeNotOpen) {
			err = fmt.Errorf("wallet-rpc has no wallet open: start it with --wallet-file (or open one with open_wallet): %w", err)
		}
		s.mu.Lock()
		s.status = chains.Status{Chain: chains.XMR, State: state, Error: "start checks: " + err.Error(), LastPoll: time.Now()}
		s.mu.Unlock()
		lvl := slog.LevelDebug
		if failures == 1 || failures%10 == 0 {
			lvl = slog.LevelWarn
		}
		s.log.Log(ctx, lvl, "wallet-rpc not ready for the start checks; retrying", "err", err, "failures", failures, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(wait*2, s.cfg.MaxBackoff)
	}
}

// Ready is closed once the checks passed.
func (s *Starter) Ready() <-chan struct{} { return s.ready }

// Allocator is the checked allocator, nil before the checks passed.
func (s *Starter) Allocator() *Allocator { return s.alloc.Load() }

// Status is the start phase's state for /readyz: starting, or unreachable
// with the reason while wallet-rpc does not answer.
func (s *Starter) Status() chains.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}
