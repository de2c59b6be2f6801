package zmqsub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// maxFramesPerMessage bounds the frames of one message: Bitcoin Core sends
// 3, monerod 1.
const maxFramesPerMessage = 8

// endpoint is the connection to one publisher address, re-dialed for the
// life of Run.
type endpoint struct {
	sub     *Subscriber
	url     string
	network string
	addr    string

	mu            sync.Mutex
	h             EndpointHealth
	everConnected bool
}

func (e *endpoint) health() EndpointHealth {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.h
	h.Endpoint = e.url
	return h
}

// run connects, reads until the connection ends, waits and connects again,
// until ctx is done.
func (e *endpoint) run(ctx context.Context, events chan<- Event) {
	o := e.sub.opts
	e.mu.Lock()
	e.h.Since = time.Now()
	e.mu.Unlock()
	backoff := o.MinBackoff
	failures := 0
	for {
		connectedAt, err := e.session(ctx, events)
		if ctx.Err() != nil {
			e.setDown(nil)
			return
		}
		e.setDown(err)
		if !connectedAt.IsZero() {
			e.sub.log.Warn("zmq publisher connection lost; push paused, will reconnect",
				"endpoint", e.url, "after", time.Since(connectedAt).Round(time.Millisecond), "error", err)
			if !e.emit(ctx, events, Event{Kind: KindDisconnected, Endpoint: e.url, Time: time.Now(), Err: err}) {
				return
			}
			failures = 0
			if time.Since(connectedAt) > o.MaxBackoff {
				backoff = o.MinBackoff
			}
		} else {
			failures++
			if failures == 1 {
				e.sub.log.Warn("zmq publisher unreachable; retrying with back-off",
					"endpoint", e.url, "max_backoff", o.MaxBackoff, "error", err)
			} else {
				e.sub.log.Debug("zmq publisher still unreachable", "endpoint", e.url, "attempts", failures, "error", err)
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, o.MaxBackoff)
	}
}

// session makes one connection and reads from it until it fails or ctx is
// done. connectedAt is zero if the handshake never completed.
func (e *endpoint) session(ctx context.Context, events chan<- Event) (connectedAt time.Time, err error) {
	o := e.sub.opts
	dialCtx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	// TCP keepalive notices a publisher host that vanished from the network
	// within about 30 s of silence; a publisher process that hangs keeps
	// its kernel answering, which only Health.LastMessage can show.
	d := net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}}
	nc, err := d.DialContext(dialCtx, e.network, e.addr)
	cancel()
	if err != nil {
		return time.Time{}, fmt.Errorf("dial: %w", err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()

	_ = nc.SetDeadline(time.Now().Add(o.DialTimeout))
	zc, err := openSub(newFrameGuard(nc, uint64(o.MaxMessageBytes), maxFramesPerMessage), o.Topics)
	if err != nil {
		return time.Time{}, err
	}
	_ = nc.SetDeadline(time.Time{})

	connectedAt = time.Now()
	reason := ReasonConnected
	e.mu.Lock()
	if e.everConnected {
		e.h.Reconnects++
		reason = ReasonReconnected
	}
	e.everConnected = true
	e.h.Connected, e.h.Since, e.h.LastError = true, connectedAt, ""
	e.mu.Unlock()
	e.sub.log.Info("zmq publisher connected", "endpoint", e.url, "topics", o.Topics, "reconnect", reason == ReasonReconnected)
	if !e.emit(ctx, events, Event{Kind: KindResync, Endpoint: e.url, Time: connectedAt, Reason: reason}) {
		return connectedAt, ctx.Err()
	}

	var seq seqTracker
	loggedMalformed := false
	for {
		msg, err := recvMsg(zc)
		if err != nil {
			if ctx.Err() != nil {
				return connectedAt, ctx.Err()
			}
			return connectedAt, err
		}
		if msg.Type == zmq4.CmdMsg {
			continue // PING (answered by zmq4) or another command
		}
		now := time.Now()
		evs, merr := e.decode(msg.Frames, now, &seq)
		if merr != nil {
			e.mu.Lock()
			e.h.Malformed++
			e.mu.Unlock()
			if !loggedMalformed {
				loggedMalformed = true
				e.sub.log.Warn("zmq publisher sent a malformed message; dropped (further ones on this connection are only counted)",
					"endpoint", e.url, "error", merr)
			}
		}
		for _, ev := range evs {
			if !e.emit(ctx, events, ev) {
				return connectedAt, ctx.Err()
			}
		}
	}
}

// openSub performs the ZMTP handshake as a SUB socket and subscribes to
// topics. zmq4 parses the peer's handshake metadata without checking every
// length; a panic there is a protocol violation by the publisher, reported as
// an error instead of ending the process.
func openSub(c net.Conn, topics []string) (zc *zmq4.Conn, err error) {
	defer func() {
		if r := recover(); r != nil {
			zc, err = nil, fmt.Errorf("%w: ZMTP handshake: %v", ErrMalformed, r)
		}
	}()
	zc, err = zmq4.Open(c, null.Security(), zmq4.Sub, nil, false, nil)
	if err != nil {
		return nil, fmt.Errorf("ZMTP handshake: %w", err)
	}
	for _, t := range topics {
		if err := zc.SendMsg(zmq4.NewMsg(append([]byte{1}, t...))); err != nil {
			return nil, fmt.Errorf("subscribe %q: %w", t, err)
		}
	}
	return zc, nil
}

// recvMsg reads the next message; like openSub it turns a panic in zmq4 on
// hostile input into an error.
func recvMsg(zc *zmq4.Conn) (msg zmq4.Msg, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: ZMTP: %v", ErrMalformed, r)
		}
	}()
	return zc.RecvMsg()
}

// decode turns one message into the events to deliver: nothing for a topic
// not subscribed, a resync before the message on a Bitcoin Core sequence gap
// or restart, a resync alone for a malformed message (also returned as err).
func (e *endpoint) decode(frames [][]byte, now time.Time, seq *seqTracker) ([]Event, error) {
	o := e.sub.opts
	subscribed := func(topic string) bool { _, ok := slices.BinarySearch(o.Topics, topic); return ok }
	malformed := func(err error) ([]Event, error) {
		return []Event{{Kind: KindResync, Endpoint: e.url, Time: now, Reason: ReasonMalformed, Err: err}}, err
	}
	msg := Event{Kind: KindMessage, Endpoint: e.url, Time: now}
	switch o.Format {
	case FormatBitcoinCore:
		if len(frames) > 0 && !subscribed(string(frames[0])) {
			return nil, nil
		}
		topic, body, n, err := splitCore(frames)
		if err != nil {
			return malformed(err)
		}
		msg.Topic, msg.Body, msg.Sequence = topic, body, n
		e.countMessage(now)
		switch verdict, missed := seq.observe(topic, n); verdict {
		case seqGap:
			e.mu.Lock()
			e.h.Gaps++
			e.mu.Unlock()
			e.sub.log.Warn("zmq messages lost (sequence gap); resyncing", "endpoint", e.url, "topic", topic, "missed", missed)
			return []Event{{Kind: KindResync, Endpoint: e.url, Time: now, Topic: topic, Sequence: n, Reason: ReasonGap, Missed: missed}, msg}, nil
		case seqRestarted:
			e.mu.Lock()
			e.h.Restarts++
			e.mu.Unlock()
			e.sub.log.Warn("zmq publisher restarted (sequence went back); resyncing", "endpoint", e.url, "topic", topic, "sequence", n)
			return []Event{{Kind: KindResync, Endpoint: e.url, Time: now, Topic: topic, Sequence: n, Reason: ReasonPublisherRestart}, msg}, nil
		}
		return []Event{msg}, nil
	case FormatMonero:
		topic, body, err := splitMonero(frames)
		if err != nil {
			return malformed(err)
		}
		if !subscribed(topic) {
			return nil, nil
		}
		msg.Topic, msg.Body = topic, body
		e.countMessage(now)
		return []Event{msg}, nil
	}
	return nil, errors.New("zmqsub: unknown format")
}

func (e *endpoint) countMessage(now time.Time) {
	e.mu.Lock()
	e.h.Messages++
	e.h.LastMessage = now
	e.mu.Unlock()
}

func (e *endpoint) setDown(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h.Connected {
		e.h.Since = time.Now()
	}
	e.h.Connected = false
	if err != nil {
		e.h.LastError = err.Error()
	}
}

// emit delivers ev unless ctx ends first.
func (e *endpoint) emit(ctx context.Context, events chan<- Event, ev Event) bool {
	select {
	case events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
