package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

// sdNotifier speaks systemd's notify protocol (sd_notify(3)) on the socket
// named by NOTIFY_SOCKET; it does nothing when that is unset.
type sdNotifier struct {
	addr *net.UnixAddr
	log  *slog.Logger
}

func newSDNotifier(log *slog.Logger) *sdNotifier {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return &sdNotifier{log: log}
	}
	if name[0] == '@' { // abstract socket
		name = "\x00" + name[1:]
	}
	return &sdNotifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}, log: log}
}

func (n *sdNotifier) notify(state string) {
	if n.addr == nil {
		return
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		n.log.Warn("sd_notify failed", "state", state, "err", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		n.log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// watchdogInterval is systemd's WatchdogSec for this process, or 0.
func watchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond
}

// progress tracks when each loop of this process last showed it is alive;
// the watchdog pings systemd only while every one of them is recent.
type progress struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newProgress() *progress { return &progress{last: map[string]time.Time{}} }

// mark records a loop's last sign of life.
func (p *progress) mark(name string, at time.Time) {
	p.mu.Lock()
	p.last[name] = at
	p.mu.Unlock()
}

// forget stops watching a loop that ended on purpose.
func (p *progress) forget(name string) {
	p.mu.Lock()
	delete(p.last, name)
	p.mu.Unlock()
}

// stale returns the loops whose last sign of life is older than limit.
func (p *progress) stale(limit time.Duration) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for name, t := range p.last {
		if time.Since(t) > limit {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// runWatchdog sends WATCHDOG=1 every interval/2 while no loop is stale
// (older than interval), until ctx ends.
func runWatchdog(ctx context.Context, n *sdNotifier, p *progress, interval time.Duration, log *slog.Logger) {
	if interval <= 0 || n.addr == nil {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if stuck := p.stale(interval); len(stuck) > 0 {
			if !warned {
				log.Error("loops stopped making progress: withholding the watchdog ping so systemd restarts ipnd", "loops", stuck)
				warned = true
			}
			continue
		}
		warned = false
		n.notify("WATCHDOG=1")
	}
}

// trackProgress samples the loops of this process every step. A chain
// watcher is alive unless a round of it has made no progress (a block
// processed, a status change) for a while: one waiting for its next round
// or backing off from a failing node is alive however long the wait (its
// last poll may be minutes old with push or a long back-off), one stuck in
// a call is not. The sync role's heartbeat writer marks itself (heartbeat);
// the IPN worker is alive when its loop turns.
func (d *daemon) trackProgress(ctx context.Context, step time.Duration) {
	t := time.NewTicker(step)
	defer t.Stop()
	for {
		now := time.Now()
		for c, l := range d.loops {
			d.progress.mark("sync-"+string(c), now.Add(-l.Stalled()))
		}
		if d.worker != nil {
			d.progress.mark("ipn", d.worker.LastLoop())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
