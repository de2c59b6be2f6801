package chainsync_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ledger"
)

var errBehind = errors.New("still syncing")

func TestLoopStatus(t *testing.T) {
	var fail error // what the next round returns (Poll runs it on this goroutine)
	var l *chainsync.Loop
	l = chainsync.NewLoop(chainsync.LoopConfig{Chain: chains.XMR, Classify: func(err error) chains.SyncState {
		if errors.Is(err, errBehind) {
			return chains.Behind
		}
		return chains.Unreachable
	}}, func(context.Context) error {
		if fail != nil {
			return fail
		}
		l.SetHeight(90)
		l.SetNodeHeight(100)
		l.RoundDone(false, "")
		return nil
	})
	if st := l.Status(); st.Chain != chains.XMR || st.State != chains.Starting {
		t.Fatalf("initial status %+v", st)
	}
	if err := l.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if st := l.Status(); st.State != chains.Behind || st.Behind != 10 || st.Error != "" || st.LastPoll.IsZero() {
		t.Fatalf("10 blocks behind: %+v", st)
	}
	fail = errors.New("connection refused")
	if err := l.Poll(ctx); err == nil {
		t.Fatal("round error not returned")
	}
	if st := l.Status(); st.State != chains.Unreachable || st.Error != "connection refused" {
		t.Fatalf("failed round: %+v", st)
	}
	fail = errBehind
	_ = l.Poll(ctx)
	if st := l.Status(); st.State != chains.Behind {
		t.Fatalf("classified failure: %+v", st)
	}
	l.SetHeight(100)
	l.RoundDone(false, "")
	if st := l.Status(); st.State != chains.Synced || st.Behind != 0 {
		t.Fatalf("caught up: %+v", st)
	}
	l.RoundDone(true, "node in initial block download")
	if st := l.Status(); st.State != chains.Behind || st.Error != "node in initial block download" {
		t.Fatalf("node syncing: %+v", st)
	}
}

// Run keeps running rounds through failures and runs one at once when
// poked, long before the poll interval.
func TestLoopRunPokeAndBackoff(t *testing.T) {
	var rounds atomic.Int64
	l := chainsync.NewLoop(chainsync.LoopConfig{Chain: chains.BTC, PollInterval: time.Hour, MaxBackoff: time.Hour},
		func(context.Context) error {
			if rounds.Add(1) == 1 {
				return errors.New("first round fails")
			}
			return nil
		})
	c, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(c) }()
	for n := int64(1); n <= 3; n++ {
		deadline := time.Now().Add(10 * time.Second)
		for rounds.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("round %d did not run", n)
			}
			l.Poke()
			time.Sleep(5 * time.Millisecond)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

// Without a successful round or a push event for StaleAfter the status
// says unreachable whatever the last round said; a push event counts.
func TestLoopStale(t *testing.T) {
	var l *chainsync.Loop
	l = chainsync.NewLoop(chainsync.LoopConfig{Chain: chains.BTC, StaleAfter: 50 * time.Millisecond},
		func(context.Context) error { l.RoundDone(false, ""); return nil })
	if err := l.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if st := l.Status(); st.State != chains.Synced {
		t.Fatalf("after a round: %+v", st)
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.Status().State != chains.Unreachable {
		if time.Now().After(deadline) {
			t.Fatalf("never stale: %+v", l.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := l.Status(); st.Error == "" {
		t.Fatalf("stale status without a reason: %+v", st)
	}
	l.Alive()
	if st := l.Status(); st.State != chains.Synced {
		t.Fatalf("after a push event: %+v", st)
	}
}

// Interval is asked before every wait: a watcher switches between slow
// and fast polling as push comes and goes.
func TestLoopInterval(t *testing.T) {
	var rounds atomic.Int64
	var fast atomic.Bool
	l := chainsync.NewLoop(chainsync.LoopConfig{Chain: chains.BTC, Interval: func() time.Duration {
		if fast.Load() {
			return time.Millisecond
		}
		return time.Hour
	}}, func(context.Context) error { rounds.Add(1); return nil })
	c, cancel := context.WithCancel(ctx)
	defer cancel()
	go l.Run(c)
	deadline := time.Now().Add(10 * time.Second)
	for rounds.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no first round")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fast.Store(true)
	l.Poke() // ends the hour's wait; the next waits are short
	for rounds.Load() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d rounds: the interval did not change", rounds.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLoopStalled: a round blocked in a call is stalled for as long as it
// makes no progress; progress (a status change) resets it; between rounds,
// however long the wait, the loop is not stalled.
func TestLoopStalled(t *testing.T) {
	step := make(chan struct{})
	var l *chainsync.Loop
	l = chainsync.NewLoop(chainsync.LoopConfig{Chain: chains.BTC, PollInterval: time.Hour}, func(ctx context.Context) error {
		<-step
		l.SetHeight(1) // progress, then blocked again
		<-step
		return nil
	})
	if s := l.Stalled(); s != 0 {
		t.Fatalf("Stalled before any round: %s", s)
	}
	done := make(chan struct{})
	go func() { l.Poll(context.Background()); close(done) }()
	testenv.WaitFor(t, 5*time.Second, "the loop's state", func() bool { return l.Stalled() >= 50*time.Millisecond })
	step <- struct{}{}
	testenv.WaitFor(t, 5*time.Second, "the loop's state", func() bool { return l.Status().Height == 1 })
	if s := l.Stalled(); s >= 50*time.Millisecond {
		t.Fatalf("Stalled right after progress: %s", s)
	}
	testenv.WaitFor(t, 5*time.Second, "the loop's state", func() bool { return l.Stalled() >= 50*time.Millisecond })
	step <- struct{}{}
	<-done
	if s := l.Stalled(); s != 0 {
		t.Fatalf("Stalled between rounds: %s", s)
	}
}

// A round refused because another process took the chain's sync lock ends
// Run with that error at once: retrying cannot succeed.
func TestLoopStopsWhenTheLockIsLost(t *testing.T) {
	var rounds atomic.Int32
	l := chainsync.NewLoop(chainsync.LoopConfig{Chain: chains.BTC, PollInterval: time.Millisecond}, func(context.Context) error {
		if rounds.Add(1) < 3 {
			return errors.New("node down") // retried
		}
		return fmt.Errorf("btc write refused: %w", ledger.ErrChainLockLost)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := l.Run(ctx)
	if !errors.Is(err, ledger.ErrChainLockLost) {
		t.Fatalf("Run returned %v, want ErrChainLockLost", err)
	}
	if n := rounds.Load(); n != 3 {
		t.Fatalf("%d rounds, want 3 (two retried failures, then the lost lock)", n)
	}
}
