package checkout

import (
	"sync"
	"time"
)

// maxTracked bounds the limiter's memory: past it, clients whose budget is
// whole again are forgotten, and if none is, new clients wait.
const maxTracked = 20000

// limiter allows each client rate requests per minute with a burst of as
// many (GCRA: a client's theoretical arrival time advances by one interval
// per request and may run at most a burst ahead of the clock). Nothing
// about a client outlives the process; no address is stored with payment
// data.
type limiter struct {
	interval time.Duration // between requests at the sustained rate
	burst    time.Duration // how far ahead of now a client's arrival time may run
	now      func() time.Time

	mu  sync.Mutex
	tat map[string]time.Time
}

func newLimiter(perMinute int, now func() time.Time) *limiter {
	if perMinute <= 0 {
		return nil
	}
	iv := time.Minute / time.Duration(perMinute)
	return &limiter{interval: iv, burst: iv * time.Duration(perMinute), now: now, tat: map[string]time.Time{}}
}

// allow takes one request of client's budget; when there is none it says
// how long until there is. A nil limiter allows everything.
func (l *limiter) allow(client string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	t, seen := l.tat[client]
	if !seen || t.Before(now) {
		t = now
	}
	next := t.Add(l.interval)
	if wait := next.Sub(now) - l.burst; wait > 0 {
		return false, wait
	}
	if !seen && len(l.tat) >= maxTracked {
		for k, v := range l.tat {
			if !v.After(now) {
				delete(l.tat, k)
			}
		}
		if len(l.tat) >= maxTracked {
			return false, l.interval
		}
	}
	l.tat[client] = next
	return true, 0
}
