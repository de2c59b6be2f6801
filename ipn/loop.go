package ipn

import (
	"context"
	"sync"
	"time"

	"github.com/ipnd/ipnd/ledger"
)

// The delivery loop: claim due notifications, start each attempt when its
// host has a free slot, keep the rest waiting in memory, record outcomes.

type held struct {
	n        ledger.Notification
	host     string
	deadline time.Time // start it no later than this, or leave it to the lease
}

// event is an attempt's progress: its HTTP part is over (sent: the worker
// and host slots are free), or its outcome is recorded.
type event struct {
	host     string
	sent     bool
	duration time.Duration
}

// queueHorizon is how much work a host may have waiting in this process:
// as many notifications as its recent attempts say it takes this long to
// work through with its per_host slots (at least per_host). A fast receiver
// gets a deep queue (no claimed notification is handed back, its slots
// never idle between claims), a slow one only per_host, so it cannot take
// the claim capacity other receivers need.
const queueHorizon = 2 * time.Second

// hostPace follows one host's attempt durations.
type hostPace struct {
	avg time.Duration // exponentially weighted
}

func (p *hostPace) add(d time.Duration) {
	if p.avg == 0 {
		p.avg = d
		return
	}
	p.avg += (d - p.avg) / 8
}

// NextDuer is optionally implemented by the ledger (*db.Ledger): when the
// earliest pending notification is due (ok false: none is pending). An
// idle worker asks it at each poll_interval (one indexed read) instead of
// claiming (a write transaction), and claims when something is due or
// when poked (Notify); a notification due before the next poll is claimed
// when it is due.
type NextDuer interface {
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
}

// nothingDue reports whether the ledger has nothing due now; when the
// earliest pending notification falls due before the next poll, the timer
// is moved to then. An error means "look": the claim reports it.
func (w *Worker) nothingDue(ctx context.Context, nd NextDuer, timer *time.Timer) bool {
	at, ok, err := nd.NextDue(ctx)
	if err != nil {
		return false
	}
	if !ok {
		return true
	}
	d := at.Sub(w.now())
	if d <= 0 {
		return false
	}
	if d < w.o.PollInterval {
		timer.Reset(d)
	}
	return true
}

// Run delivers until ctx is cancelled, then waits for the attempts in
// flight (each bounded by the timeout) and records them. Claimed
// notifications that were not started are handed back.
func (w *Worker) Run(ctx context.Context) error {
	w.log.Info("ipn worker started", "workers", w.o.Workers, "per_host", w.o.PerHost,
		"timeout", w.o.Timeout, "lease", w.o.Lease, "poll_interval", w.o.PollInterval)
	var (
		wg         sync.WaitGroup
		events     = make(chan event, 2*w.o.Workers)
		sending    int                // HTTP attempts in flight (at most Workers)
		unrecorded int                // started and not recorded yet
		hostBusy   = map[string]int{} // HTTP attempts in flight per host (at most PerHost)
		pace       = map[string]*hostPace{}
		queue      []held // claimed, waiting for a slot
		backlog    bool   // the last claim was full: more are due
		claimNow   = true
		capacity   = 4 * w.o.Workers // started and unrecorded + claimed and waiting
		batchMin   = max(1, capacity/4)
		attemptCx  = context.WithoutCancel(ctx)
	)
	if w.o.Lease < w.o.Timeout+w.o.Timeout/2 {
		w.log.Warn("ipn.lease is shorter than 1.5 x ipn.timeout: a slow attempt may outlive its lease and be repeated by another process")
	}
	timer := time.NewTimer(w.o.PollInterval)
	defer timer.Stop()
	nextDue, _ := w.l.(NextDuer)
	ticked := false // this turn was woken by the poll timer (not a poke)

	var records chan recordReq
	if br, ok := w.l.(BatchRecorder); ok {
		records = make(chan recordReq, w.o.Workers)
		recDone := make(chan struct{})
		go func() { defer close(recDone); w.recorder(attemptCx, br, records) }()
		defer func() { close(records); <-recDone }()
	}
	hostQueue := func(host string) int {
		p := pace[host]
		if p == nil || p.avg <= 0 {
			return w.o.PerHost
		}
		n := int(int64(queueHorizon) * int64(w.o.PerHost) / int64(p.avg))
		return min(max(n, w.o.PerHost), capacity)
	}
	canStart := func(host string) bool { return sending < w.o.Workers && hostBusy[host] < w.o.PerHost }
	start := func(h held) {
		sending++
		unrecorded++
		hostBusy[h.host]++
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.deliver(attemptCx, h.n, records, func(d time.Duration) { events <- event{host: h.host, sent: true, duration: d} })
			events <- event{host: h.host}
		}()
	}
	// startQueued starts waiting notifications whose host has room, and
	// hands back those whose lease is running out.
	startQueued := func() {
		now := w.now()
		kept := queue[:0]
		for _, h := range queue {
			switch {
			case canStart(h.host):
				start(h)
			case now.After(h.deadline):
				w.leaveForLater(ctx, h)
			default:
				kept = append(kept, h)
			}
		}
		clear(queue[len(kept):])
		queue = kept
	}
	handle := func(e event) {
		if !e.sent {
			unrecorded--
			return
		}
		sending--
		if hostBusy[e.host]--; hostBusy[e.host] <= 0 {
			delete(hostBusy, e.host)
		}
		p := pace[e.host]
		if p == nil {
			if len(pace) > 4096 { // bounded memory: forget every host's pace now and then
				clear(pace)
			}
			p = &hostPace{}
			pace[e.host] = p
		}
		p.add(e.duration)
	}

	for ctx.Err() == nil {
		w.lastLoop.Store(time.Now().UnixNano())
		startQueued()
		free := capacity - unrecorded - len(queue)
		if free > 0 && ticked && !backlog && len(queue) == 0 && nextDue != nil && w.nothingDue(ctx, nextDue, timer) {
			claimNow = false // idle: nothing due yet, no claim transaction
		}
		ticked = false
		if free > 0 && (claimNow || (backlog && free >= batchMin)) {
			claimNow = false
			now := w.now()
			ns, err := w.l.ClaimDue(ctx, w.o.Owner, w.o.Lease, free)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Error("claim due notifications", "err", err)
				}
				backlog = false
			} else {
				backlog = len(ns) == free
				// A notification waiting for its host must still have time
				// for a whole attempt before its lease runs out.
				deadline := now.Add(max(0, w.o.Lease-w.o.Timeout-w.o.Timeout/2))
				waiting := map[string]int{}
				for _, h := range queue {
					waiting[h.host]++
				}
				left := 0
				for _, n := range ns {
					h := held{n: n, host: hostKey(n.URL), deadline: deadline}
					if canStart(h.host) {
						start(h)
						continue
					}
					// A saturated host keeps what it works through soon
					// waiting; the rest is handed back so that it does not
					// take others' capacity.
					if waiting[h.host] >= hostQueue(h.host) {
						w.leaveForLater(ctx, h)
						left++
						continue
					}
					waiting[h.host]++
					queue = append(queue, h)
				}
				// Claim again at once only while nothing had to be handed
				// back; otherwise wait for an attempt to finish.
				backlog = backlog && left == 0
				if backlog {
					continue
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-w.poke:
			claimNow = true
		case <-timer.C:
			claimNow, ticked = true, true
			timer.Reset(w.o.PollInterval)
		case e := <-events:
			handle(e)
			// Take whatever else has happened before looking again.
			for more := true; more; {
				select {
				case e := <-events:
					handle(e)
				default:
					more = false
				}
			}
		}
	}
	w.log.Info("ipn worker stopping", "in_flight", sending, "unstarted", len(queue))
	if d, ok := w.l.(Deferrer); ok {
		for _, h := range queue {
			if err := d.Defer(attemptCx, h.n, 0); err != nil {
				w.log.Warn("release notification", "notification", h.n.ID, "err", err)
			}
		}
	}
	// The attempts in flight finish and are recorded; their events are
	// drained so that none blocks.
	go func() {
		for range events {
		}
	}()
	wg.Wait()
	close(events)
	w.s.Close()
	return nil
}
