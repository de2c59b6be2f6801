package console_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/internal/testenv"
)

// Live streams: an update at once, another when the store changes (on the
// Notifier's wake-up), heartbeat comments, a per-session bound, and the
// stream's end when the client goes away or the console closes.
func TestLiveStream(t *testing.T) {
	h := newHarness(t, func(o *console.Options) { o.MaxStreamsPerSession = 2; o.Refresh = time.Hour })
	console.SetHeartbeat(h.console, 50*time.Millisecond)
	c := h.signedIn()
	status, events, cancel := c.stream("/console/events/subscriptions/2")
	if status != http.StatusOK {
		t.Fatal(status)
	}
	if ev := next(t, events, false); ev.name != "update" || !strings.Contains(ev.data, "failing") {
		t.Fatalf("first event %q: %s", ev.name, ev.data)
	}
	next(t, events, true) // a heartbeat comment
	h.store.setReceiver(brokenURL, 200)
	h.store.mu.Lock()
	h.store.newNote(2, 250_000, 10_000)
	h.store.mu.Unlock()
	h.store.deliverDue() // wakes the stream through the Broadcaster (polling is hourly here)
	if ev := next(t, events, false); ev.name != "update" || !strings.Contains(ev.data, "acknowledged") {
		t.Fatalf("after delivery %q: %s", ev.name, ev.data)
	}

	// HEAD answers at once and holds no stream.
	if a := c.do(http.MethodHead, "/console/events/overview", nil); a.status != http.StatusOK || a.header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD of a stream: %d %q", a.status, a.header.Get("Content-Type"))
	}
	s2, _, cancel2 := c.stream("/console/events/overview")
	if s2 != http.StatusOK {
		t.Fatal(s2)
	}
	if s3, _, cancel3 := c.stream("/console/events/overview"); s3 != http.StatusTooManyRequests {
		t.Errorf("a third stream for the session: %d, want 429", s3)
		cancel3()
	}
	// Another session has its own allowance.
	other := h.signedIn()
	s4, _, cancel4 := other.stream("/console/events/overview")
	if s4 != http.StatusOK {
		t.Errorf("another session's stream: %d", s4)
	}
	testenv.WaitFor(t, 10*time.Second, "three streams open", func() bool { return console.OpenStreams(h.console) == 3 })
	cancel()
	cancel2()
	testenv.WaitFor(t, 10*time.Second, "the hung-up streams end", func() bool { return console.OpenStreams(h.console) == 1 })
	h.console.Close()
	testenv.WaitFor(t, 10*time.Second, "Close ends the last stream", func() bool { return console.OpenStreams(h.console) == 0 })
	cancel4()
	if s, _, _ := c.stream("/console/events/subscriptions/999"); s != http.StatusUnauthorized && s != http.StatusNotFound {
		t.Errorf("stream after Close / of an unknown subscription: %d", s)
	}
}

func TestBroadcaster(t *testing.T) {
	b := console.NewBroadcaster()
	ch1, stop1 := b.Watch()
	ch2, stop2 := b.Watch()
	b.Notify()
	b.Notify() // coalesced: one wake-up waits
	for i, ch := range []<-chan struct{}{ch1, ch2} {
		select {
		case <-ch:
		default:
			t.Errorf("watcher %d was not woken", i+1)
		}
		select {
		case <-ch:
			t.Errorf("watcher %d got two wake-ups", i+1)
		default:
		}
	}
	stop1()
	b.Notify()
	select {
	case <-ch1:
		t.Error("a stopped watcher was woken")
	default:
	}
	<-ch2
	stop2()
}

// Wake-ups (a busy IPN worker wakes the console after every attempt) update
// a stream at most once per wake gap, and the last change still reaches the
// page.
func TestLiveStreamWakeBurst(t *testing.T) {
	h := newHarness(t, func(o *console.Options) { o.Refresh = time.Hour })
	console.SetHeartbeat(h.console, time.Hour)
	c := h.signedIn()
	_, events, cancel := c.stream("/console/events/overview")
	defer cancel()
	next(t, events, false)
	before := h.store.chainReads.Load()
	start := time.Now()
	for i := range 60 {
		h.store.mu.Lock()
		h.store.stats.Acknowledged = int64(1000 + i)
		h.store.mu.Unlock()
		h.bc.Notify()
		// Give the stream the chance to read at once (it must not).
		reads := h.store.chainReads.Load()
		for wait := time.Now().Add(10 * time.Millisecond); time.Now().Before(wait) && h.store.chainReads.Load() == reads; {
			runtime.Gosched()
		}
	}
	for {
		if ev := next(t, events, false); strings.Contains(ev.data, ">1059<") {
			break
		}
	}
	reads, most := h.store.chainReads.Load()-before, int64(time.Since(start)/console.WakeGap)+3
	if reads > most {
		t.Errorf("60 wake-ups over %v read the store %d times; at most %d (one per %v)", time.Since(start), reads, most, console.WakeGap)
	}
}

// One wake-up of twelve open overview streams reads the store once: they
// share one computation of the overview (each stream computed its own,
// twelve reads), and every stream shows the change. A page load reads
// afresh.
func TestOverviewSharedSnapshot(t *testing.T) {
	h := newHarness(t, func(o *console.Options) { o.MaxStreamsPerSession = 12; o.Refresh = time.Hour })
	console.SetHeartbeat(h.console, time.Hour)
	c := h.signedIn()
	var streams []<-chan event
	for range 12 {
		status, events, cancel := c.stream("/console/events/overview")
		if status != http.StatusOK {
			t.Fatal(status)
		}
		defer cancel()
		next(t, events, false)
		streams = append(streams, events)
	}
	before := h.store.chainReads.Load()
	h.store.mu.Lock()
	h.store.stats.Acknowledged = 4242
	h.store.mu.Unlock()
	h.bc.Notify()
	for i, events := range streams {
		if ev := next(t, events, false); !strings.Contains(ev.data, ">4242<") {
			t.Fatalf("stream %d after the wake-up: %s", i, ev.data)
		}
	}
	if a := c.do(http.MethodGet, "/console/", nil); a.status != http.StatusOK || !strings.Contains(a.body, ">4242<") {
		t.Fatalf("overview page: %d", a.status)
	}
	if reads := h.store.chainReads.Load() - before; reads != 2 {
		t.Errorf("one wake-up of 12 streams and a page load read the store %d times, want 2", reads)
	}
}
