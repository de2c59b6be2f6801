// Package rpcproxy is a recording JSON-RPC proxy for tests, put between a
// client under test (the watcher) and a node's RPC port (btcd, bitcoind):
//
//	p := rpcproxy.New(t, node.RPCHost)
//	// point the client at p.Host instead of node.RPCHost
//	p.Calls("getrawtransaction") // calls so far, batch elements one by one
//	p.HTTPRequests()             // POSTs so far (each a TCP connection, as btcd closes them)
//	p.Hang("")                   // every call held unanswered, as by a hung node ...
//	p.Release()                  // ... until now
//	p.ServeRawTransaction(txid, craftedHex)
//	p.AddToMempool(fakeTxid)
//
// It relays HTTP POSTs (single calls and batches) and websocket connections
// (btcd's /ws: calls counted, notifications counted, connections can be
// cut). It answers every POST with "Connection: close", as btcd does, so a
// client makes as many TCP connections through it as it would directly.
// Authentication is the node's: the proxy passes the client's credentials.
// Rewrites apply to HTTP calls only.
package rpcproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// TB is what the proxy needs of its caller (testing.TB has it).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Proxy is a running proxy. Its methods are safe for concurrent use.
type Proxy struct {
	Host string // 127.0.0.1:port to give the client as the node's RPC host

	target string
	srv    *http.Server
	client *http.Client

	mu      sync.Mutex
	calls   map[string]int64 // per method, over HTTP and websocket
	notes   map[string]int64 // websocket notifications from the node, per method
	posts   int64
	wsConns int64
	faults  faults
	rules   []rule
	sockets map[*wsPair]struct{}
}

// New starts a proxy on a free loopback port in front of target, the
// node's RPC host:port; tb.Cleanup closes it.
func New(tb TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("rpcproxy: listen: %v", err)
	}
	p := &Proxy{
		Host:   ln.Addr().String(),
		target: target,
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		calls:  map[string]int64{}, notes: map[string]int64{},
		sockets: map[*wsPair]struct{}{},
	}
	p.faults.init()
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	tb.Cleanup(p.Close)
	return p
}

// Close stops the proxy: held calls are released unanswered, websockets
// cut, the port closed.
func (p *Proxy) Close() {
	p.faults.closeAll()
	p.CutWebsockets()
	_ = p.srv.Close()
}

// Calls is how many calls of method the client made (each element of a
// batch counts, websocket calls too); "" counts requests that were not
// valid JSON-RPC.
func (p *Proxy) Calls(method string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

// AllCalls is a copy of the call counts by method.
func (p *Proxy) AllCalls() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return copyCounts(p.calls)
}

// TotalCalls is the sum of the call counts.
func (p *Proxy) TotalCalls() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sum int64
	for _, v := range p.calls {
		sum += v
	}
	return sum
}

// HTTPRequests is how many HTTP POSTs the client made (a batch is one).
func (p *Proxy) HTTPRequests() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.posts
}

// Websockets is how many websocket connections the proxy relayed.
func (p *Proxy) Websockets() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wsConns
}

// Notifications is a copy of the counts of websocket notifications the
// node sent (by method: "blockconnected", "txaccepted", ...).
func (p *Proxy) Notifications() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return copyCounts(p.notes)
}

// Reset sets every counter to zero; faults and rewrites stay.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls, p.notes = map[string]int64{}, map[string]int64{}
	p.posts, p.wsConns = 0, 0
}

func copyCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (p *Proxy) count(methods []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range methods {
		p.calls[m]++
	}
}

// request is one JSON-RPC call as the proxy sees it.
type request struct {
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	ID     json.RawMessage   `json:"id"`
}

// parseCalls decodes a single call or a batch; ok is false when body is
// neither.
func parseCalls(body []byte) (reqs []request, batch, ok bool) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &reqs); err != nil {
			return nil, true, false
		}
		return reqs, true, true
	}
	var r request
	if err := json.Unmarshal(trimmed, &r); err != nil {
		return nil, false, false
	}
	return []request{r}, false, true
}

func methods(reqs []request, ok bool) []string {
	if !ok {
		return []string{""}
	}
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Method
	}
	return out
}

// ServeHTTP relays one POST, or a websocket connection.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isWebsocket(r) {
		p.serveWebsocket(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	reqs, batch, ok := parseCalls(body)
	names := methods(reqs, ok)
	p.mu.Lock()
	p.posts++
	p.mu.Unlock()
	p.count(names)

	if p.faults.isDown() {
		dropConnection(w)
		return
	}
	if err := p.faults.wait(r.Context(), names); err != nil {
		dropConnection(w) // released by Close, or the client gave up
		return
	}
	status, header, reply, err := p.forward(r, body)
	if err != nil {
		// The node refused the connection or closed it unanswered (btcd
		// does that to a body that is not JSON): so does the proxy.
		dropConnection(w)
		return
	}
	if ok && status == http.StatusOK {
		reply = p.rewrite(reqs, batch, reply)
	}
	w.Header().Set("Content-Type", header.Get("Content-Type"))
	w.Header().Set("Connection", "close")
	if v := header.Get("WWW-Authenticate"); v != "" {
		w.Header().Set("WWW-Authenticate", v)
	}
	w.WriteHeader(status)
	_, _ = w.Write(reply)
}

// forward POSTs body to the node with the client's path and credentials.
func (p *Proxy) forward(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "http://"+p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	for _, h := range []string{"Authorization", "Content-Type"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("node %s: %w", p.target, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("node %s: read reply: %w", p.target, err)
	}
	return resp.StatusCode, resp.Header, reply, nil
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// faults are the delays, hangs and outage the proxy imposes on calls.
type faults struct {
	mu      sync.Mutex
	delays  map[string]time.Duration
	hangs   map[string]bool
	release chan struct{} // closed by Release
	down    bool
	closed  bool
}

func (f *faults) init() {
	f.delays, f.hangs, f.release = map[string]time.Duration{}, map[string]bool{}, make(chan struct{})
}

var errClosed = errors.New("rpcproxy closed")

// wait holds a request whose calls are names for the delays and hangs in
// force; it returns early with an error when ctx ends or the proxy closes.
func (f *faults) wait(ctx context.Context, names []string) error {
	f.mu.Lock()
	delay := f.delays[""]
	hang := f.hangs[""]
	for _, n := range names {
		delay = max(delay, f.delays[n])
		hang = hang || f.hangs[n]
	}
	release, closed := f.release, f.closed
	f.mu.Unlock()
	if closed {
		return errClosed
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if hang {
		select {
		case <-release:
			f.mu.Lock()
			closed = f.closed
			f.mu.Unlock()
			if closed {
				return errClosed
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (f *faults) isDown() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *faults) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.release)
	}
}
