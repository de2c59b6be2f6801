package chainsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// LoopConfig tunes a Loop.
type LoopConfig struct {
	Chain chains.Chain
	// PollInterval between rounds (default 1 s).
	PollInterval time.Duration
	// Interval, when set, is asked for the wait before each round instead
	// of PollInterval (and is the back-off's base): a watcher with push
	// notifications polls slowly while push works and fast while it does
	// not.
	Interval func() time.Duration
	// StaleAfter: Status reports the chain unreachable when no round
	// succeeded and no push event arrived (Alive) for this long, whatever
	// the last round said (a node that hangs, a round that never ends);
	// 0 disables.
	StaleAfter time.Duration
	// MaxBackoff caps the wait after a failed round (default 30 s).
	MaxBackoff time.Duration
	// Classify is the state a failed round's error is reported as; nil
	// reports every failure as chains.Unreachable.
	Classify func(error) chains.SyncState
	// Logger receives the trouble lines; the caller has given it its
	// subsystem attribute. Nil discards.
	Logger *slog.Logger
}

// Loop runs one chain watcher's rounds: every PollInterval, at once when
// poked, and after a failure with a capped exponential back-off. It keeps
// the watcher's chains.Status. Run it in one goroutine; Poll, Poke, Status
// and the Set methods are safe from any goroutine.
type Loop struct {
	cfg   LoopConfig
	round func(context.Context) error
	log   *slog.Logger
	poke  chan struct{}

	pollMu sync.Mutex // one round at a time

	mu      sync.Mutex
	status  chains.Status
	alive   time.Time // last successful round or push event
	inRound bool      // a round is running
	moved   time.Time // the running round's start or its last status change
}

// NewLoop makes a loop that runs round; Run starts it.
func NewLoop(cfg LoopConfig, round func(context.Context) error) *Loop {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Interval == nil {
		every := cfg.PollInterval
		cfg.Interval = func() time.Duration { return every }
	}
	if cfg.Classify == nil {
		cfg.Classify = func(error) chains.SyncState { return chains.Unreachable }
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loop{cfg: cfg, round: round, log: log, poke: make(chan struct{}, 1),
		status: chains.Status{Chain: cfg.Chain, State: chains.Starting}}
}

// Run runs rounds until ctx ends. Node trouble never ends it: it backs off
// (doubling from PollInterval up to MaxBackoff), reports the trouble in
// Status and logs it (the first failure and every tenth at warning level,
// the others at debug level, so that a long outage keeps the log readable).
// A ledger that refuses the chain's writes because another process took
// the sync lock (ledger.ErrChainLockLost) ends it with that error: no
// retry can succeed, and the sync role's process exits so that its
// supervisor restarts it as a standby.
func (l *Loop) Run(ctx context.Context) error {
	failures := 0
	for {
		err := l.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ledger.ErrChainLockLost) {
			l.log.Error("another process took this chain's sync lock; stopping", "err", err)
			return err
		}
		wait := l.cfg.Interval()
		if err != nil {
			failures++
			wait <<= min(failures, 16)
			if wait > l.cfg.MaxBackoff || wait <= 0 {
				wait = l.cfg.MaxBackoff
			}
			lvl := slog.LevelWarn
			if failures > 1 && failures%10 != 0 {
				lvl = slog.LevelDebug
			}
			l.log.Log(ctx, lvl, "node trouble; retrying", "err", err, "failures", failures, "retry_in", wait)
		} else if failures > 0 {
			l.log.Info("node reachable again", "after_failures", failures)
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-l.poke:
			t.Stop()
		case <-t.C:
		}
	}
}

// Poll runs one round now and records its outcome: LastPoll always, and on
// failure the state Classify gives with the error's text.
func (l *Loop) Poll(ctx context.Context) error {
	l.pollMu.Lock()
	defer l.pollMu.Unlock()
	l.mu.Lock()
	l.inRound, l.moved = true, time.Now()
	l.mu.Unlock()
	err := l.round(ctx)
	now := time.Now()
	l.mu.Lock()
	l.inRound = false
	l.mu.Unlock()
	l.SetStatus(func(s *chains.Status) { s.LastPoll = now })
	if err == nil {
		l.mu.Lock()
		l.alive = now
		l.mu.Unlock()
	}
	if err != nil && ctx.Err() == nil {
		state := l.cfg.Classify(err)
		l.SetStatus(func(s *chains.Status) { s.State, s.Error = state, err.Error() })
	}
	return err
}

// Poke asks for a round now (push notifications call it: ZMQ, websockets).
func (l *Loop) Poke() {
	select {
	case l.poke <- struct{}{}:
	default:
	}
}

// Alive records a sign of life of the node between rounds (a push
// notification).
func (l *Loop) Alive() {
	l.mu.Lock()
	l.alive = time.Now()
	l.mu.Unlock()
}

// Status is the watcher's health for the readiness check and metrics.
func (l *Loop) Status() chains.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.status
	if l.cfg.StaleAfter > 0 && !l.alive.IsZero() && (s.State == chains.Synced || s.State == chains.Behind) {
		if quiet := time.Since(l.alive); quiet > l.cfg.StaleAfter {
			s.State = chains.Unreachable
			s.Error = fmt.Sprintf("no successful poll or push event for %s (more than %s)", quiet.Round(time.Second), l.cfg.StaleAfter)
		}
	}
	return s
}

// SetStatus changes the status under its lock; Behind follows from
// NodeHeight and Height.
func (l *Loop) SetStatus(f func(s *chains.Status)) {
	l.mu.Lock()
	f(&l.status)
	l.status.Behind = max(l.status.NodeHeight-l.status.Height, 0)
	l.moved = time.Now()
	l.mu.Unlock()
}

// Stalled is how long the running round has gone without progress (its
// start, a block processed, any status change); 0 between rounds. A loop
// waiting for its next round or backing off from a failing node is alive,
// however long the wait; one stuck inside a call is not: the systemd
// watchdog's measure of the loop.
func (l *Loop) Stalled() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.inRound {
		return 0
	}
	return time.Since(l.moved)
}

// SetHeight records the last height processed into the ledger.
func (l *Loop) SetHeight(h int64) { l.SetStatus(func(s *chains.Status) { s.Height = h }) }

// SetNodeHeight records the node's best height.
func (l *Loop) SetNodeHeight(h int64) { l.SetStatus(func(s *chains.Status) { s.NodeHeight = h }) }

// RoundDone records a successful round: synced when the ledger has reached
// the node's height, behind otherwise or when nodeSyncing (the node itself
// is still catching up with its network). note is shown as the status's
// error ("" clears the last failure's).
func (l *Loop) RoundDone(nodeSyncing bool, note string) {
	l.SetStatus(func(s *chains.Status) {
		s.State, s.Error = chains.Synced, note
		if nodeSyncing || s.Height < s.NodeHeight {
			s.State = chains.Behind
		}
	})
}
