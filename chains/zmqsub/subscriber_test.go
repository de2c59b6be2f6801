package zmqsub

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// eventWait bounds every wait for an event; generous for a loaded machine.
const eventWait = 20 * time.Second

// testPub is a zmq4 PUB socket standing in for a node's publisher.
type testPub struct {
	t    *testing.T
	sock zmq4.Socket
	url  string
}

// startPub listens on addr ("127.0.0.1:0" for a free port).
func startPub(t *testing.T, addr string) *testPub {
	t.Helper()
	sock := zmq4.NewPub(context.Background(), zmq4.WithLogger(log.New(io.Discard, "", 0)))
	if err := sock.Listen("tcp://" + addr); err != nil {
		t.Fatalf("test publisher: %v", err)
	}
	p := &testPub{t: t, sock: sock, url: "tcp://" + sock.Addr().String()}
	t.Cleanup(func() { p.sock.Close() })
	return p
}

// waitSubscribed waits until the subscriber's subscriptions have reached
// the publisher (PUB drops what it publishes before).
func (p *testPub) waitSubscribed(topics ...string) {
	p.t.Helper()
	deadline := time.Now().Add(eventWait)
	for {
		have := p.sock.(zmq4.Topics).Topics()
		missing := false
		for _, topic := range topics {
			missing = missing || !slices.Contains(have, topic)
		}
		if !missing {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("publisher has subscriptions %q, want %q", have, topics)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *testPub) send(frames ...[]byte) {
	p.t.Helper()
	if err := p.sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		p.t.Fatalf("publish: %v", err)
	}
}

// sendCore publishes in Bitcoin Core's layout: topic | body | LE uint32.
func (p *testPub) sendCore(topic string, body []byte, seq uint32) {
	p.t.Helper()
	p.send([]byte(topic), body, binary.LittleEndian.AppendUint32(nil, seq))
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func nextEvent(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(eventWait):
		t.Fatalf("no event within %s", eventWait)
	}
	panic("unreachable")
}

func expectResync(t *testing.T, ch <-chan Event, reason Reason) Event {
	t.Helper()
	ev := nextEvent(t, ch)
	if ev.Kind != KindResync || ev.Reason != reason {
		t.Fatalf("got %v %v (topic %q seq %d err %v), want resync %v", ev.Kind, ev.Reason, ev.Topic, ev.Sequence, ev.Err, reason)
	}
	return ev
}

func expectMessage(t *testing.T, ch <-chan Event, topic string, seq uint32) Event {
	t.Helper()
	ev := nextEvent(t, ch)
	if ev.Kind != KindMessage || ev.Topic != topic || ev.Sequence != seq {
		t.Fatalf("got %v %v topic %q seq %d, want message %q seq %d", ev.Kind, ev.Reason, ev.Topic, ev.Sequence, topic, seq)
	}
	return ev
}

func subscribe(t *testing.T, o Options) (*Subscriber, <-chan Event) {
	t.Helper()
	o.MinBackoff, o.MaxBackoff, o.Logger = 10*time.Millisecond, 200*time.Millisecond, quietLogger()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Events(ctx, 16)
	t.Cleanup(func() {
		cancel()
		for range ch { // closed once every connection is closed
		}
	})
	return s, ch
}

// TestBitcoinCorePublisher replays what Bitcoin Core publishes, with a lost
// message, a sequence number going back, a malformed message and a real
// publisher restart on the same port.
func TestBitcoinCorePublisher(t *testing.T) {
	pub := startPub(t, "127.0.0.1:0")
	topics := []string{TopicHashBlock, TopicRawTx, TopicSequence}
	sub, ch := subscribe(t, Options{Name: "btc", Endpoints: []string{pub.url}, Topics: topics, Format: FormatBitcoinCore})

	expectResync(t, ch, ReasonConnected)
	pub.waitSubscribed(topics...)
	genesis := coreHashBody(t, mainnetGenesis)

	pub.sendCore(TopicHashBlock, genesis, 0)
	ev := expectMessage(t, ch, TopicHashBlock, 0)
	if h, err := ParseHash(ev.Body); err != nil || h.String() != mainnetGenesis {
		t.Fatalf("hashblock body decodes to %v %v", h, err)
	}
	pub.sendCore(TopicHashBlock, genesis, 1)
	expectMessage(t, ch, TopicHashBlock, 1)

	// Message 2 lost.
	pub.sendCore(TopicHashBlock, genesis, 3)
	gap := expectResync(t, ch, ReasonGap)
	if gap.Topic != TopicHashBlock || gap.Missed != 1 || gap.Sequence != 3 {
		t.Fatalf("gap event %+v, want hashblock, 1 missed, at 3", gap)
	}
	expectMessage(t, ch, TopicHashBlock, 3)

	// Topics count separately; a topic that merely shares the prefix of a
	// subscription is ignored.
	pub.sendCore(TopicRawTx, []byte{1, 0, 0, 0}, 40)
	expectMessage(t, ch, TopicRawTx, 40)
	pub.sendCore("rawtxlock", []byte{1}, 0)
	pub.sendCore(TopicRawTx, []byte{1, 0, 0, 0}, 41)
	expectMessage(t, ch, TopicRawTx, 41)

	// Malformed: no sequence frame.
	pub.send([]byte(TopicHashBlock), genesis)
	if ev := expectResync(t, ch, ReasonMalformed); !errors.Is(ev.Err, ErrMalformed) {
		t.Fatalf("malformed resync carries %v", ev.Err)
	}

	// The counter goes back without the connection dropping (e.g. a proxy
	// in front of a restarted node).
	pub.sendCore(TopicHashBlock, genesis, 0)
	expectResync(t, ch, ReasonPublisherRestart)
	expectMessage(t, ch, TopicHashBlock, 0)

	mseq := uint64(77)
	pub.sendCore(TopicSequence, sequenceBody(t, mainnetGenesis, 'A', &mseq), 0)
	ev = expectMessage(t, ch, TopicSequence, 0)
	if se, err := ParseSequence(ev.Body); err != nil || se.Label != TxAdded || se.MempoolSequence != 77 {
		t.Fatalf("sequence body decodes to %+v %v", se, err)
	}

	h := sub.Health()
	if !h.Connected || h.Reconnects != 0 || len(h.Endpoints) != 1 {
		t.Fatalf("health %+v", h)
	}
	if e := h.Endpoints[0]; e.Messages != 7 || e.Gaps != 1 || e.Restarts != 1 || e.Malformed != 1 || e.LastMessage.IsZero() {
		t.Fatalf("endpoint health %+v", e)
	}

	// The node restarts: the connection drops, the port answers again later.
	addr := strings.TrimPrefix(pub.url, "tcp://")
	pub.sock.Close()
	if ev := nextEvent(t, ch); ev.Kind != KindDisconnected || ev.Err == nil {
		t.Fatalf("got %v %v, want disconnected with its cause", ev.Kind, ev.Err)
	}
	if h := sub.Health(); h.Connected || h.Endpoints[0].LastError == "" {
		t.Fatalf("health after the publisher left: %+v", h)
	}
	pub = startPub(t, addr)
	expectResync(t, ch, ReasonReconnected)
	pub.waitSubscribed(topics...)
	pub.sendCore(TopicHashBlock, genesis, 0) // a new connection starts a new count
	expectMessage(t, ch, TopicHashBlock, 0)
	if h := sub.Health(); !h.Connected || h.Reconnects != 1 || h.Endpoints[0].LastError != "" {
		t.Fatalf("health after reconnecting: %+v", h)
	}
}

func TestMoneroPublisher(t *testing.T) {
	pub := startPub(t, "127.0.0.1:0")
	topics := []string{TopicMoneroTxPoolAdd, TopicMoneroChainMain}
	_, ch := subscribe(t, Options{Name: "xmr", Endpoints: []string{pub.url, pub.url}, Topics: topics, Format: FormatMonero})
	expectResync(t, ch, ReasonConnected) // one connection: duplicate endpoints are merged
	pub.waitSubscribed(topics...)

	pub.send([]byte(TopicMoneroChainMain + ":" + sampleChainMain))
	ev := expectMessage(t, ch, TopicMoneroChainMain, 0)
	if c, err := ParseMoneroChainMain(ev.Body); err != nil || c.FirstHeight != 2 {
		t.Fatalf("chain_main body decodes to %+v %v", c, err)
	}
	pub.send([]byte(TopicMoneroChainMain + "_v2:{}")) // another topic sharing the prefix
	pub.send([]byte(TopicMoneroChainMain + "{}"))     // no ':'
	expectResync(t, ch, ReasonMalformed)
	pub.send([]byte(TopicMoneroTxPoolAdd+":"+sampleTxPoolAdd), []byte("second frame"))
	expectResync(t, ch, ReasonMalformed)
	pub.send([]byte(TopicMoneroTxPoolAdd + ":" + sampleTxPoolAdd))
	ev = expectMessage(t, ch, TopicMoneroTxPoolAdd, 0)
	if txs, err := ParseMoneroTxPoolAdd(ev.Body); err != nil || len(txs) != 1 {
		t.Fatalf("txpool_add body decodes to %+v %v", txs, err)
	}
}

// hostileServer accepts connections on loopback and hands each, in order, to
// the next of serve.
func hostileServer(t *testing.T, serve ...func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for i := 0; ; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if i >= len(serve) {
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				serve[i](c)
			}()
		}
	}()
	return "tcp://" + l.Addr().String()
}

// TestHostilePublisher: a frame announcing 2^62 bytes, and a handshake whose
// metadata makes zmq4 index past its end, each cost a reconnect, nothing
// more; the third connection works.
func TestHostilePublisher(t *testing.T) {
	huge := func(c net.Conn) {
		if _, err := zmq4.Open(c, null.Security(), zmq4.Pub, nil, true, nil); err != nil {
			return
		}
		hdr := binary.BigEndian.AppendUint64([]byte{flagLong}, 1<<62)
		_, _ = c.Write(hdr)
		_, _ = io.Copy(io.Discard, c)
	}
	badReady := func(c net.Conn) {
		_, _ = c.Write(badReadyHandshake())
		_, _ = io.Copy(io.Discard, c)
	}
	good := func(c net.Conn) {
		zc, err := zmq4.Open(c, null.Security(), zmq4.Pub, nil, true, nil)
		if err != nil {
			return
		}
		if _, err := zc.RecvMsg(); err != nil { // the subscription
			return
		}
		_ = zc.SendMsg(zmq4.NewMsgFrom([]byte(TopicHashBlock), make([]byte, 32), []byte{5, 0, 0, 0}))
		_, _ = io.Copy(io.Discard, c)
	}
	url := hostileServer(t, huge, badReady, good)
	sub, ch := subscribe(t, Options{Endpoints: []string{url}, Topics: []string{TopicHashBlock}, Format: FormatBitcoinCore})

	expectResync(t, ch, ReasonConnected)
	if ev := nextEvent(t, ch); ev.Kind != KindDisconnected || !errors.Is(ev.Err, ErrTooLarge) {
		t.Fatalf("got %v %v, want disconnected: ErrTooLarge", ev.Kind, ev.Err)
	}
	expectResync(t, ch, ReasonReconnected)
	expectMessage(t, ch, TopicHashBlock, 5)
	if h := sub.Health(); h.Reconnects != 1 {
		t.Fatalf("health %+v, want 1 reconnect (the bad handshake never connected)", h)
	}
}

// badReadyHandshake is a ZMTP 3.0 NULL greeting followed by a READY command
// whose one property claims a 3-byte name with only 2 bytes left.
func badReadyHandshake() []byte {
	greeting := make([]byte, zmtpGreetingLen)
	greeting[0], greeting[9], greeting[10] = 0xff, 0x7f, 3
	copy(greeting[12:], "NULL")
	body := append([]byte("\x05READY"), 3, 'a', 'b')
	return append(greeting, zmtpFrame(flagCommand, body)...)
}

func TestOpenSubRecoversFromHandshakePanic(t *testing.T) {
	url := hostileServer(t, func(c net.Conn) {
		_, _ = c.Write(badReadyHandshake())
		_, _ = io.Copy(io.Discard, c)
	})
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(eventWait))
	if _, err := openSub(c, []string{"x"}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("openSub error %v, want ErrMalformed from the recovered panic", err)
	}
}

func TestUnreachableAndCancel(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + l.Addr().String()
	l.Close() // nothing listens there now
	s, err := New(Options{Endpoints: []string{url}, Topics: []string{TopicHashBlock}, Format: FormatBitcoinCore,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, func(ev Event) { t.Errorf("unexpected event %v", ev.Kind) }) }()
	deadline := time.Now().Add(eventWait)
	for s.Health().Endpoints[0].LastError == "" {
		if time.Now().After(deadline) {
			t.Fatal("no dial error recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if h := s.Health(); h.Connected || !strings.Contains(h.Endpoints[0].LastError, "dial") {
		t.Fatalf("health %+v", h)
	}
	if err := s.Run(ctx, func(Event) {}); err == nil {
		t.Fatal("a second Run while running was accepted")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after cancel", err)
		}
	case <-time.After(eventWait):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewRejects(t *testing.T) {
	ok := Options{Endpoints: []string{"tcp://127.0.0.1:28332"}, Topics: []string{"rawtx"}, Format: FormatBitcoinCore}
	cases := map[string]func(o *Options){
		"no format":       func(o *Options) { o.Format = 0 },
		"no topics":       func(o *Options) { o.Topics = nil },
		"empty topic":     func(o *Options) { o.Topics = []string{""} },
		"no endpoints":    func(o *Options) { o.Endpoints = nil },
		"no scheme":       func(o *Options) { o.Endpoints = []string{"127.0.0.1:28332"} },
		"no port":         func(o *Options) { o.Endpoints = []string{"tcp://127.0.0.1"} },
		"bind wildcard":   func(o *Options) { o.Endpoints = []string{"tcp://*:28332"} },
		"other transport": func(o *Options) { o.Endpoints = []string{"udp://127.0.0.1:1"} },
	}
	for name, mutate := range cases {
		o := ok
		mutate(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
	if n, a, err := ParseEndpoint("ipc:///run/bitcoind/zmq.sock"); err != nil || n != "unix" || a != "/run/bitcoind/zmq.sock" {
		t.Fatalf("ipc endpoint: %s %s %v", n, a, err)
	}
}

// A publisher's wildcard bind address is not dialable; Dialable puts the
// publisher's host in its place (loopback when none is known) and leaves
// every other endpoint alone.
func TestWildcardEndpoints(t *testing.T) {
	for _, h := range []string{"*", "0.0.0.0", "::", "0:0:0:0:0:0:0:0"} {
		if !IsWildcard(h) {
			t.Errorf("IsWildcard(%q) = false", h)
		}
		if _, _, err := ParseEndpoint("tcp://" + net.JoinHostPort(h, "28332")); err == nil || !strings.Contains(err.Error(), "bind address") {
			t.Errorf("ParseEndpoint with host %s: %v", h, err)
		}
	}
	for _, h := range []string{"127.0.0.1", "::1", "node.example", ""} {
		if IsWildcard(h) {
			t.Errorf("IsWildcard(%q) = true", h)
		}
	}
	for _, c := range []struct{ ep, host, want string }{
		{"tcp://0.0.0.0:28332", "node.example", "tcp://node.example:28332"},
		{"tcp://*:28332", "192.0.2.7", "tcp://192.0.2.7:28332"},
		{"tcp://[::]:28332", "fd00::7", "tcp://[fd00::7]:28332"},
		{"tcp://0.0.0.0:28332", "", "tcp://127.0.0.1:28332"},
		{"tcp://0.0.0.0:28332", "::", "tcp://127.0.0.1:28332"},
		{"tcp://10.0.0.2:28332", "node.example", "tcp://10.0.0.2:28332"},
		{"ipc:///run/zmq.sock", "node.example", "ipc:///run/zmq.sock"},
		{"garbage", "node.example", "garbage"},
	} {
		if got := Dialable(c.ep, c.host); got != c.want {
			t.Errorf("Dialable(%q, %q) = %q, want %q", c.ep, c.host, got, c.want)
		}
	}
}
