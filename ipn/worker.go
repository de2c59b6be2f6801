package ipn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/internal/weburl"
	"github.com/ipnd/ipnd/ledger"
)

// Ledger is what the Worker needs of the ledger (*db.Ledger). Lease and
// due times are the ledger's: ClaimDue leases for lease from the ledger's
// clock, RecordAttempt schedules a retry RetryAfter from it.
type Ledger interface {
	ClaimDue(ctx context.Context, owner string, lease time.Duration, limit int) ([]ledger.Notification, error)
	RecordAttempt(ctx context.Context, n ledger.Notification, res ledger.AttemptResult) error
}

// Clock is optionally implemented by the ledger: its clock (the database
// server's), which the Worker then uses for max_age and the attempt times
// it reports.
type Clock interface {
	Now() time.Time
}

// Observer is told the outcome of every recorded attempt (metrics hook).
// It is called from the delivery goroutines and must not block.
type Observer interface {
	AttemptDone(n ledger.Notification, res ledger.AttemptResult)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(n ledger.Notification, res ledger.AttemptResult)

// AttemptDone calls f.
func (f ObserverFunc) AttemptDone(n ledger.Notification, res ledger.AttemptResult) { f(n, res) }

// DefaultRetrySchedule is used when Options.RetrySchedule is empty.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour,
}

// Options configures a Worker. Zero values take the defaults of [ipn].
type Options struct {
	Owner         string          // lease owner name; default host-pid-random
	Workers       int             // concurrent attempts; default 32
	PerHost       int             // concurrent attempts to one receiver host; default 4
	Timeout       time.Duration   // one attempt; default 10 s
	RetrySchedule []time.Duration // waits after failures; the last repeats; ±10% jitter
	MaxAge        time.Duration   // give up on older notifications; 0 = never
	Lease         time.Duration   // default 1 min
	PollInterval  time.Duration   // default 200 ms
	AllowPrivate  bool            // [ipn] allow_private_targets
	Version       string          // User-Agent: ipnd/VERSION
	Logger        *slog.Logger    // nil discards
	Observer      Observer        // optional
	// Sender makes the attempts; nil builds one from the options above.
	Sender *Sender
}

// OptionsFromConfig maps the [ipn] section to Options.
func OptionsFromConfig(c config.IPN, version string, log *slog.Logger) Options {
	o := Options{
		Workers: c.Workers, PerHost: c.PerHost, Timeout: c.Timeout.D(), MaxAge: c.MaxAge.D(),
		Lease: c.Lease.D(), PollInterval: c.PollInterval.D(), AllowPrivate: c.AllowPrivateTargets,
		Version: version, Logger: log,
	}
	for _, d := range c.RetrySchedule {
		o.RetrySchedule = append(o.RetrySchedule, d.D())
	}
	return o
}

// Worker delivers due notifications: it claims them from the ledger, posts
// them with a bounded number of concurrent attempts (and at most PerHost to
// one host) and records each outcome with its next attempt time.
type Worker struct {
	l    Ledger
	o    Options
	s    *Sender
	log  *slog.Logger
	poke chan struct{}
	now  func() time.Time
	// lastLoop is the unix nanosecond time of the loop's last turn.
	lastLoop atomic.Int64
}

// NewWorker builds a Worker; call Run to start it.
func NewWorker(l Ledger, o Options) *Worker {
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.PerHost <= 0 {
		o.PerHost = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if len(o.RetrySchedule) == 0 {
		o.RetrySchedule = DefaultRetrySchedule
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.Owner == "" {
		o.Owner = defaultOwner()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := o.Sender
	if s == nil {
		s = NewSender(SenderOptions{Version: o.Version, Timeout: o.Timeout, AllowPrivate: o.AllowPrivate, MaxIdlePerHost: o.PerHost})
	}
	now := time.Now
	if c, ok := l.(Clock); ok {
		now = c.Now
	}
	return &Worker{
		l: l, o: o, s: s, log: o.Logger.With("subsystem", "ipn", "owner", o.Owner),
		poke: make(chan struct{}, 1), now: now,
	}
}

func defaultOwner() string {
	h, _ := os.Hostname()
	if len(h) > 40 {
		h = h[:40]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", h, os.Getpid(), hex.EncodeToString(b))
}

// LastLoop is when the delivery loop last turned (at least every
// poll_interval while it runs): the watchdog's sign that it is not stuck.
func (w *Worker) LastLoop() time.Time {
	if ns := w.lastLoop.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Owner is the name this Worker leases notifications under.
func (w *Worker) Owner() string { return w.o.Owner }

// Notify wakes the Worker to look for due notifications now (the chain
// role of the same process calls it after a ledger change made some).
// It never blocks.
func (w *Worker) Notify() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// RetryDelay is how long to wait after a failed attempt, given how many
// attempts were made before it: the schedule's entry at that index (the
// last entry for ever after) with ±10% jitter.
func RetryDelay(schedule []time.Duration, attemptsBefore int) time.Duration {
	if len(schedule) == 0 {
		schedule = DefaultRetrySchedule
	}
	i := attemptsBefore
	if i < 0 {
		i = 0
	}
	if i >= len(schedule) {
		i = len(schedule) - 1
	}
	d := schedule[i]
	if d > 0 {
		spread := int64(d / 5) // 20% wide, centred: ±10%
		if spread > 0 {
			d = d - d/10 + time.Duration(mrand.Int64N(spread+1))
		}
	}
	return d
}

// BatchRecorder is optionally implemented by the ledger: it records many
// attempt outcomes in one transaction (what RecordAttempt does for one),
// returning one error per outcome (ledger.ErrLeaseLost for a lost lease) or an
// error for the whole batch. The Worker then records outcomes group-commit
// style: whatever finished while the previous batch was written.
type BatchRecorder interface {
	RecordAttempts(ctx context.Context, ns []ledger.Notification, res []ledger.AttemptResult) ([]error, error)
}

type recordReq struct {
	n     ledger.Notification
	res   ledger.AttemptResult
	reply chan error
}

// maxRecordBatch bounds one RecordAttempts call.
const maxRecordBatch = 128

func (w *Worker) recorder(ctx context.Context, br BatchRecorder, in <-chan recordReq) {
	for first := range in {
		batch := []recordReq{first}
	collect:
		for len(batch) < maxRecordBatch {
			select {
			case r, ok := <-in:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		ns := make([]ledger.Notification, len(batch))
		rs := make([]ledger.AttemptResult, len(batch))
		for i, r := range batch {
			ns[i], rs[i] = r.n, r.res
		}
		rctx, cancel := context.WithTimeout(ctx, w.o.Timeout+5*time.Second)
		errs, err := br.RecordAttempts(rctx, ns, rs)
		cancel()
		for i, r := range batch {
			e := err
			if e == nil && i < len(errs) {
				e = errs[i]
			}
			r.reply <- e
		}
	}
}

// Deferrer is optionally implemented by the ledger: Defer releases a
// claimed notification without an attempt, due again after (on the
// ledger's clock). Without it a notification left for later waits for its
// lease to run out.
type Deferrer interface {
	Defer(ctx context.Context, n ledger.Notification, after time.Duration) error
}

// leaveForLater gives up a claimed notification that cannot start now
// because its host is saturated.
func (w *Worker) leaveForLater(ctx context.Context, h held) {
	d, ok := w.l.(Deferrer)
	if !ok {
		w.log.Debug("host busy; notification left to its lease", "notification", h.n.ID, "host", h.host)
		return
	}
	after := w.o.PollInterval + time.Duration(mrand.Int64N(int64(time.Second)))
	if err := d.Defer(ctx, h.n, after); err != nil {
		w.log.Warn("defer notification", "notification", h.n.ID, "err", err)
	}
}

// hostKey is the per-host limit's key: scheme-less host:port, lower case.
func hostKey(raw string) string { return weburl.Host(raw) }

// deliver makes one attempt of n and records it; sent is called when the
// HTTP attempt is over (its host and worker slot are free), before the
// outcome is recorded.
func (w *Worker) deliver(ctx context.Context, n ledger.Notification, records chan<- recordReq, sent func(time.Duration)) {
	out := w.s.Send(ctx, n, n.Attempts+1)
	sent(out.Duration)
	now := w.now()
	res := ledger.AttemptResult{Delivered: out.Delivered, Status: out.Status, Error: out.Error, Duration: out.Duration, At: now}
	if out.Delivered {
		// A receiver that failed before and answers again gets its
		// notifications waiting in back-off, as many at a time as it may
		// have in flight.
		res.CatchUp = w.o.PerHost
	} else {
		res.RetryAfter = RetryDelay(w.o.RetrySchedule, n.Attempts)
		if w.o.MaxAge > 0 && !n.CreatedAt.IsZero() && now.Sub(n.CreatedAt) > w.o.MaxAge {
			res.GiveUp = true
		}
	}
	var err error
	if records != nil {
		reply := make(chan error, 1)
		records <- recordReq{n: n, res: res, reply: reply}
		err = <-reply
	} else {
		rctx, cancel := context.WithTimeout(ctx, w.o.Timeout+5*time.Second)
		err = w.l.RecordAttempt(rctx, n, res)
		cancel()
	}
	log := w.log.With("notification", n.ID, "subscription", n.SubscriptionID, "host", hostKey(n.URL),
		"attempt", n.Attempts+1, "status", out.Status, "duration", out.Duration)
	switch {
	case errors.Is(err, ledger.ErrLeaseLost):
		log.Warn("lease ran out during the attempt; outcome logged only", "delivered", out.Delivered)
		// Not recorded: the notification is as it was (another claim
		// retries it), so the observer is not told of a give-up or a
		// retry that did not happen.
		res.GiveUp, res.RetryAfter = false, 0
	case err != nil:
		log.Error("record attempt", "err", err, "delivered", out.Delivered)
	case out.Delivered:
		log.Debug("notification delivered")
	case res.GiveUp:
		log.Warn("notification failed: max_age reached", "reason", out.Error)
	default:
		log.Info("delivery attempt failed", "reason", out.Error, "retry_in", res.RetryAfter.Round(time.Second))
	}
	if w.o.Observer != nil {
		w.o.Observer.AttemptDone(n, res)
	}
}
