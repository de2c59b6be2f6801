package checkout

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/ipnd/ipnd/ledger"
)

// events is the page's live status: a text/event-stream that sends the
// invoice's state (an "state" event, JSON) at once and whenever it
// changes, reading the invoice every Refresh, with a comment every
// Heartbeat. It ends after StreamLife (the browser reconnects after the
// retry delay), when the client goes away or on Close.
func (c *Checkout) events(w http.ResponseWriter, r *http.Request) {
	inv, ok := c.load(w, r, false)
	if !ok {
		return
	}
	client := c.o.ClientAddr(r)
	if !c.openStream(client) {
		w.Header().Set("Retry-After", "30")
		c.plain(w, http.StatusTooManyRequests, "too many live pages open: close some and reload")
		return
	}
	defer c.closeStream(client)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	w.WriteHeader(http.StatusOK)

	ctx := r.Context()
	end := time.NewTimer(c.o.StreamLife)
	defer end.Stop()
	tick := time.NewTicker(c.o.Refresh)
	defer tick.Stop()
	var last []byte
	lastWrite := time.Now()
	send := func(b []byte) bool {
		// The server's WriteTimeout would cut a long stream: each write
		// gets a deadline of its own.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := w.Write(b); err != nil {
			return false
		}
		lastWrite = time.Now()
		return rc.Flush() == nil
	}
	if !send([]byte("retry: 3000\n\n")) {
		return
	}
	for {
		// Only a change of what the page shows makes an event: the time
		// left is counted down by the page itself.
		st := stateOf(inv, c.o.Now())
		key := st
		key.ExpiresInMS = 0
		k, _ := json.Marshal(key)
		if string(k) != string(last) {
			b, err := json.Marshal(st)
			if err != nil {
				return
			}
			if !send(append(append([]byte("event: state\ndata: "), b...), '\n', '\n')) {
				return
			}
			last = k
		} else if time.Since(lastWrite) >= c.o.Heartbeat {
			if !send([]byte(": keep-alive\n\n")) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-c.closed:
			return
		case <-end.C:
			return
		case <-tick.C:
		}
		next, err := c.o.Store.Invoice(ctx, inv.ID)
		switch {
		case err == nil:
			inv = next
		case errors.Is(err, ledger.ErrNotFound) || ctx.Err() != nil:
			return
		default:
			c.log.Warn("read invoice for a live page", "err", err) // keep the last state; try again
		}
	}
}

// openStream counts a new stream of client, within the limits.
func (c *Checkout) openStream(client string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total >= c.o.MaxStreams || c.streams[client] >= c.o.MaxStreamsPerClient {
		return false
	}
	c.total++
	c.streams[client]++
	return true
}

func (c *Checkout) closeStream(client string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.streams[client]--; c.streams[client] <= 0 {
		delete(c.streams, client)
	}
}
