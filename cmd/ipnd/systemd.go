package main

import (
	"context"
	"log/slog"
	"net"
	"os"
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

// progress tracks when each role's loop last completed a round; the
// watchdog pings systemd only while every one of them is recent.
type progress struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newProgress() *progress { return &progress{last: map[string]time.Time{}} }

// beat records that the named loop made progress now.
func (p *progress) beat(name string) {
	p.mu.Lock()
	p.last[name] = time.Now()
	p.mu.Unlock()
}

// stale returns the loops whose last round is older than limit.
func (p *progress) stale(limit time.Duration) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for name, t := range p.last {
		if time.Since(t) > limit {
			out = append(out, name)
		}
	}
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

// trackProgress samples the loops of this process every step: a chain
// watcher progresses when its last poll round is recent, the IPN worker
// when its loop turns, the API when it answers its own /healthz.
func (d *daemon) trackProgress(ctx context.Context, step time.Duration) {
	t := time.NewTicker(step)
	defer t.Stop()
	for {
		for c, a := range d.chains {
			if st := a.Status(); !st.LastPoll.IsZero() {
				d.progress.mark("sync-"+string(c), st.LastPoll)
			}
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

// mark records a loop's last progress time.
func (p *progress) mark(name string, at time.Time) {
	p.mu.Lock()
	p.last[name] = at
	p.mu.Unlock()
}
