package console

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Broadcaster is a Notifier for one process: call Notify after a change
// (the IPN worker after an attempt, the sync role after a block) and every
// watcher wakes.
type Broadcaster struct {
	mu       sync.Mutex
	watchers map[chan struct{}]struct{}
	last     atomic.Int64 // UnixNano of the last Notify
}

// lastNotify is when Notify was last called: a view computed after it
// holds the change it announced.
func (b *Broadcaster) lastNotify() time.Time {
	if ns := b.last.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// NewBroadcaster returns a Broadcaster with no watchers.
func NewBroadcaster() *Broadcaster {
	return &Broadcaster{watchers: map[chan struct{}]struct{}{}}
}

// Notify wakes every watcher; it never blocks.
func (b *Broadcaster) Notify() {
	b.last.Store(time.Now().UnixNano())
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.watchers {
		select {
		case ch <- struct{}{}:
		default: // one wake-up is already waiting
		}
	}
}

// Watch implements Notifier.
func (b *Broadcaster) Watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.watchers[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.watchers, ch)
		b.mu.Unlock()
	}
}

// heartbeatEvery is how often an idle stream sends a comment, so that
// proxies and the browser see it alive (Console.heartbeat; tests shorten
// it).
const heartbeatEvery = 15 * time.Second

// wakeGap is the least time between two updates of a stream caused by
// Notifier wake-ups: a busy IPN worker wakes the console after every
// attempt, thousands of times a second, and each update reads the store.
// A wake-up within the gap is served when it ends.
const wakeGap = 250 * time.Millisecond

// writeWindow bounds each write to a stream (the server's WriteTimeout is
// extended write by write).
const writeWindow = 30 * time.Second

func (c *Console) acquireStream() bool {
	c.streamsMu.Lock()
	defer c.streamsMu.Unlock()
	if c.streams >= c.o.MaxStreams {
		return false
	}
	c.streams++
	return true
}

func (c *Console) releaseStream() {
	c.streamsMu.Lock()
	c.streams--
	c.streamsMu.Unlock()
}

// stream serves server-sent events: an "update" event with the live
// region's new HTML whenever it differs from what was last sent (looked
// at every Refresh and on each Notifier wake-up), a comment every
// heartbeatEvery, and an "end" event when the session ends. It returns
// when the client goes away, the session ends or the console closes.
func (c *Console) stream(w http.ResponseWriter, r *http.Request, s *session, render func(context.Context) ([]byte, error)) {
	if !s.acquireStream(c.o.MaxStreamsPerSession) {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many live streams for this session: close a console tab", http.StatusTooManyRequests)
		return
	}
	defer s.releaseStream()
	if !c.acquireStream() {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many live streams", http.StatusTooManyRequests)
		return
	}
	defer c.releaseStream()

	ctx := r.Context()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}

	var wake <-chan struct{}
	if c.o.Notifier != nil {
		ch, stop := c.o.Notifier.Watch()
		defer stop()
		wake = ch
	}
	poll := time.NewTicker(c.o.Refresh)
	defer poll.Stop()
	beat := time.NewTicker(c.heartbeat)
	defer beat.Stop()

	write := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(writeWindow)) // not every writer supports it
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	// retry tells EventSource how long to wait before reconnecting.
	if write([]byte("retry: 5000\n\n")) != nil {
		return
	}
	var last []byte
	update := func() error {
		body, err := render(ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("live update failed", "path", r.URL.Path, "err", err)
			}
			return nil // keep the stream; the next tick tries again
		}
		if bytes.Equal(body, last) {
			return nil
		}
		last = body
		return write(sseEvent("update", body))
	}
	if update() != nil {
		return
	}
	var (
		lastWake time.Time
		deferred <-chan time.Time // a wake-up held back by wakeGap
	)
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-c.closed:
			return
		case <-s.done:
			_ = write(sseEvent("end", []byte("signed out")))
			return
		case <-wake:
			if wait := wakeGap - time.Since(lastWake); wait > 0 {
				if deferred == nil {
					deferred = time.After(wait)
				}
				continue
			}
			lastWake = time.Now()
			err = update()
		case <-deferred:
			deferred, lastWake = nil, time.Now()
			err = update()
		case <-poll.C:
			if !c.sessions.alive(s) {
				_ = write(sseEvent("end", []byte("session expired")))
				return
			}
			err = update()
		case <-beat.C:
			err = write([]byte(": heartbeat\n\n"))
		}
		if err != nil {
			return
		}
	}
}

// sseEvent frames data as one event; each line of data gets its own data:
// field (EventSource joins them with newlines).
func sseEvent(name string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("event: ")
	b.WriteString(name)
	b.WriteByte('\n')
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		b.WriteString("data: ")
		b.Write(bytes.TrimSuffix(line, []byte("\r")))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// overviewSnap is the overview's data, shared by the page and every live
// stream of it: one computation serves all the clients that need it at
// about the same time (twenty open consoles woken by one delivery read the
// store once, not twenty times).
type overviewSnap struct {
	mu   sync.Mutex // held while computing: one computation at a time
	at   time.Time  // when the computation started
	data overviewData
	ok   bool
}

// lastNotifier is a Notifier that says when it last woke its watchers
// (Broadcaster).
type lastNotifier interface{ lastNotify() time.Time }

// sharedOverview is the overview's data computed at or after notBefore
// and after the Notifier's last wake-up (so that it holds the change that
// woke the streams); otherwise it computes it afresh for every waiting
// caller. Streams accept one wakeGap old; a page load wants one computed
// after its request (and leaves it to the streams).
func (c *Console) sharedOverview(ctx context.Context, notBefore time.Time) (overviewData, error) {
	if n, ok := c.o.Notifier.(lastNotifier); ok {
		if t := n.lastNotify(); t.After(notBefore) {
			notBefore = t
		}
	}
	o := &c.overviewSnap
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ok && !o.at.Before(notBefore) {
		return o.data, nil
	}
	start := time.Now()
	d, err := c.overviewData(ctx)
	if err != nil {
		return d, err
	}
	o.at, o.data, o.ok = start, d, true
	return d, nil
}

func (c *Console) overviewEvents(w http.ResponseWriter, r *http.Request, s *session) {
	c.stream(w, r, s, func(ctx context.Context) ([]byte, error) {
		d, err := c.sharedOverview(ctx, time.Now().Add(-wakeGap))
		if err != nil {
			return nil, err
		}
		return c.fragment("overview", "overview-live", view{Data: d})
	})
}

func (c *Console) subscriptionEvents(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	if _, err := c.o.Store.SubscriptionByID(r.Context(), id); err != nil {
		if errors.Is(err, ErrNotFound) {
			http.Error(w, "no such subscription", http.StatusNotFound)
			return
		}
		c.log.Error("ledger query failed", "path", r.URL.Path, "err", err)
		http.Error(w, "the ledger did not answer", http.StatusServiceUnavailable)
		return
	}
	c.stream(w, r, s, func(ctx context.Context) ([]byte, error) {
		d, err := c.subscriptionData(ctx, id)
		if err != nil {
			return nil, err
		}
		return c.fragment("subscription", "subscription-live", view{Data: d})
	})
}
