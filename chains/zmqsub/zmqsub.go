// Package zmqsub subscribes to a node's ZeroMQ publisher (Bitcoin Core's
// -zmqpub* notifications, monerod's --zmq-pub) over pure-Go ZMTP
// (github.com/go-zeromq/zmq4), and tells its consumer when it must look at
// the node itself.
//
// A Subscriber keeps one connection per endpoint, re-dials with capped
// exponential back-off whenever the publisher goes away, and delivers
// events one at a time to a callback (Run) or a channel (Events):
//
//   - KindMessage: a message of a subscribed topic (Topic, Body, and for
//     Bitcoin Core the message Sequence).
//   - KindResync: the consumer may have missed something and must poll the
//     node fully: after every (re)connection (PUB/SUB keeps nothing for an
//     absent subscriber, and drops what is published before the
//     subscription reaches the publisher), on a Bitcoin Core sequence gap
//     (lost messages) or sequence going back (publisher restarted), and
//     after a message it could not decode.
//   - KindDisconnected: the connection is gone; until the next KindResync
//     nothing is pushed and the consumer should poll at its fast rate.
//
// Health reports per endpoint whether it is connected, when the last message
// arrived and how often it reconnected, for a watcher's fallback decision,
// /readyz and metrics.
//
// Everything a publisher sends is untrusted: frame and message sizes are
// bounded before anything is allocated (MaxMessageBytes), malformed messages
// are counted and dropped, and a publisher that breaks the protocol only
// costs a reconnect.
package zmqsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

// Format is the message layout of a publisher.
type Format int

const (
	// FormatBitcoinCore: three frames, topic | body | 4-byte LE sequence.
	FormatBitcoinCore Format = iota + 1
	// FormatMonero: one frame, `<topic>:<json>`.
	FormatMonero
)

func (f Format) String() string {
	switch f {
	case FormatBitcoinCore:
		return "bitcoin-core"
	case FormatMonero:
		return "monero"
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// Defaults of Options.
const (
	DefaultMinBackoff      = 100 * time.Millisecond
	DefaultMaxBackoff      = 2 * time.Second
	DefaultDialTimeout     = 5 * time.Second
	DefaultMaxMessageBytes = 16 << 20 // a 4 MB-weight Bitcoin block serialises to at most 4 MB
)

// Options configure a Subscriber.
type Options struct {
	// Name identifies the subscriber in logs (e.g. "btc", "xmr").
	Name string
	// Endpoints are the publisher addresses, "tcp://host:port" or
	// "ipc:///path". Every topic is subscribed on every endpoint.
	Endpoints []string
	// Topics are subscribed by exact name; messages of other topics (ZMQ
	// subscriptions match prefixes) are ignored.
	Topics []string
	Format Format
	// MinBackoff and MaxBackoff bound the wait before re-dialing; the wait
	// doubles after each failed attempt or short-lived connection.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds the TCP connect and the ZMTP handshake.
	DialTimeout time.Duration
	// MaxMessageBytes bounds one message (all frames); a publisher that
	// announces more is disconnected.
	MaxMessageBytes int
	// Logger (default slog.Default()) gets connection changes and the first
	// malformed message of each connection, never message bodies.
	Logger *slog.Logger
}

// Kind is the kind of an Event.
type Kind int

const (
	KindMessage Kind = iota + 1
	KindResync
	KindDisconnected
)

func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindResync:
		return "resync"
	case KindDisconnected:
		return "disconnected"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Reason says why a KindResync event was sent.
type Reason int

const (
	ReasonConnected        Reason = iota + 1 // first connection to the endpoint
	ReasonReconnected                        // connected again after losing the connection
	ReasonGap                                // Bitcoin Core: sequence numbers skipped (Event.Missed messages lost)
	ReasonPublisherRestart                   // Bitcoin Core: the sequence number went back
	ReasonMalformed                          // a message of a subscribed topic could not be decoded
)

func (r Reason) String() string {
	switch r {
	case ReasonConnected:
		return "connected"
	case ReasonReconnected:
		return "reconnected"
	case ReasonGap:
		return "sequence gap"
	case ReasonPublisherRestart:
		return "publisher restarted"
	case ReasonMalformed:
		return "malformed message"
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Event is what a Subscriber delivers.
type Event struct {
	Kind     Kind
	Endpoint string
	// Time is when the event happened here (a message: when it was read).
	Time time.Time
	// Topic: the message's topic (KindMessage; KindResync for a gap or a
	// restart).
	Topic string
	// Body: the message payload (KindMessage): Core's second frame, or
	// monerod's JSON after "<topic>:".
	Body []byte
	// Sequence: Bitcoin Core's per-topic message number (KindMessage; for a
	// gap or a restart the number that revealed it).
	Sequence uint32
	// Reason and Missed (messages lost, for ReasonGap): KindResync.
	Reason Reason
	Missed uint32
	// Err: why the connection ended (KindDisconnected) or what was malformed
	// (ReasonMalformed).
	Err error
}

// EndpointHealth is the state of one endpoint's connection.
type EndpointHealth struct {
	Endpoint  string
	Connected bool
	// Since is when the connection was established (Connected) or lost or
	// first attempted (not Connected).
	Since time.Time
	// LastMessage is when the last message of a subscribed topic arrived
	// (zero before the first). A publisher that hangs keeps its connection
	// up: only a LastMessage older than the node's usual quiet time shows it.
	LastMessage time.Time
	Messages    uint64
	// Reconnects counts connections after the first one.
	Reconnects uint64
	Gaps       uint64 // Bitcoin Core sequence gaps
	Restarts   uint64 // Bitcoin Core sequence restarts
	Malformed  uint64 // messages dropped as malformed
	LastError  string // why the last connection or attempt failed
}

// Health is a snapshot of every endpoint.
type Health struct {
	// Connected: every endpoint is connected.
	Connected bool
	// LastMessage: the latest message on any endpoint (zero if none yet).
	LastMessage time.Time
	// Reconnects: the sum over the endpoints.
	Reconnects uint64
	Endpoints  []EndpointHealth
}

// Subscriber is a ZMQ SUB client for one publisher format.
type Subscriber struct {
	opts      Options
	log       *slog.Logger
	endpoints []*endpoint

	mu      sync.Mutex
	running bool
}

// New checks the options and returns a Subscriber; nothing connects before
// Run or Events.
func New(o Options) (*Subscriber, error) {
	if o.Format != FormatBitcoinCore && o.Format != FormatMonero {
		return nil, fmt.Errorf("zmqsub: unknown format %v", o.Format)
	}
	if len(o.Topics) == 0 {
		return nil, errors.New("zmqsub: no topics to subscribe to")
	}
	if len(o.Endpoints) == 0 {
		return nil, errors.New("zmqsub: no endpoints")
	}
	for _, t := range o.Topics {
		if t == "" || strings.ContainsAny(t, ":\x00") {
			return nil, fmt.Errorf("zmqsub: invalid topic %q", t)
		}
	}
	o.Topics = slices.Compact(slices.Sorted(slices.Values(o.Topics)))
	o.MinBackoff = cmpOr(o.MinBackoff, DefaultMinBackoff)
	o.MaxBackoff = max(cmpOr(o.MaxBackoff, DefaultMaxBackoff), o.MinBackoff)
	o.DialTimeout = cmpOr(o.DialTimeout, DefaultDialTimeout)
	o.MaxMessageBytes = cmpOr(o.MaxMessageBytes, DefaultMaxMessageBytes)
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	subsystem := "zmq"
	if o.Name != "" {
		subsystem = o.Name + ".zmq"
	}
	s := &Subscriber{opts: o, log: logger.With("subsystem", subsystem)}
	seen := map[string]bool{}
	for _, raw := range o.Endpoints {
		network, addr, err := ParseEndpoint(raw)
		if err != nil {
			return nil, err
		}
		if seen[raw] {
			continue
		}
		seen[raw] = true
		s.endpoints = append(s.endpoints, &endpoint{sub: s, url: raw, network: network, addr: addr})
	}
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// ParseEndpoint checks a publisher address, "tcp://host:port" or
// "ipc:///path", and returns the network and address to dial.
func ParseEndpoint(endpoint string) (network, addr string, err error) {
	scheme, rest, ok := strings.Cut(endpoint, "://")
	switch {
	case !ok:
		return "", "", fmt.Errorf("zmq endpoint %q: want tcp://host:port or ipc:///path", endpoint)
	case scheme == "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil || host == "" || port == "" {
			return "", "", fmt.Errorf("zmq endpoint %q: want tcp://host:port", endpoint)
		}
		if IsWildcard(host) {
			return "", "", fmt.Errorf("zmq endpoint %q: %s is a bind address; name the host the publisher listens on", endpoint, host)
		}
		return "tcp", rest, nil
	case scheme == "ipc":
		if rest == "" {
			return "", "", fmt.Errorf("zmq endpoint %q: want ipc:///path", endpoint)
		}
		return "unix", rest, nil
	}
	return "", "", fmt.Errorf("zmq endpoint %q: unsupported transport %q (tcp or ipc)", endpoint, scheme)
}

// IsWildcard reports whether host is a bind-to-every-interface address
// ("*", 0.0.0.0, ::): what a publisher binds and reports (Core's
// getzmqnotifications), not an address a subscriber can connect to.
func IsWildcard(host string) bool {
	if host == "*" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// Dialable turns a publisher's bind address into one to connect to: a
// tcp:// endpoint with a wildcard host gets host instead (the publisher's
// machine as the subscriber reaches it, such as the node's RPC host; a
// wildcard or empty host means loopback). Other endpoints are returned as
// they are.
func Dialable(endpoint, host string) string {
	rest, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return endpoint
	}
	h, port, err := net.SplitHostPort(rest)
	if err != nil || !IsWildcard(h) {
		return endpoint
	}
	if host == "" || IsWildcard(host) {
		host = "127.0.0.1"
	}
	return "tcp://" + net.JoinHostPort(host, port)
}

// Run connects to every endpoint and calls handle for each event, one at a
// time from the calling goroutine, until ctx is done; then it closes the
// connections and returns nil. A slow handle holds back reading (the
// publisher drops what does not fit its queue, which a Bitcoin Core
// subscriber sees as a gap). A Subscriber runs once at a time.
func (s *Subscriber) Run(ctx context.Context, handle func(Event)) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("zmqsub: subscriber already running")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan Event)
	var wg sync.WaitGroup
	for _, ep := range s.endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ep.run(ctx, events)
		}()
	}
	for {
		select {
		case ev := <-events:
			handle(ev)
		case <-ctx.Done():
			wg.Wait()
			return nil
		}
	}
}

// Events runs the subscriber in the background and returns its events; the
// channel (of capacity buffer) is closed once ctx is done and the
// connections are closed.
func (s *Subscriber) Events(ctx context.Context, buffer int) <-chan Event {
	ch := make(chan Event, buffer)
	go func() {
		defer close(ch)
		_ = s.Run(ctx, func(ev Event) {
			select {
			case ch <- ev:
			case <-ctx.Done():
			}
		})
	}()
	return ch
}

// Health returns the current state of every endpoint.
func (s *Subscriber) Health() Health {
	h := Health{Connected: true}
	for _, ep := range s.endpoints {
		eh := ep.health()
		h.Endpoints = append(h.Endpoints, eh)
		h.Connected = h.Connected && eh.Connected
		h.Reconnects += eh.Reconnects
		if eh.LastMessage.After(h.LastMessage) {
			h.LastMessage = eh.LastMessage
		}
	}
	return h
}
