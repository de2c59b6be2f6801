package rpcproxy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/websocket"
)

// wsPair is one relayed websocket: the client's side and the node's.
type wsPair struct {
	client, node *websocket.Conn
	once         sync.Once
	ctx          context.Context
	cancel       context.CancelFunc
}

func (w *wsPair) close() {
	w.once.Do(func() {
		w.cancel()
		_ = w.client.Close()
		_ = w.node.Close()
	})
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// CutWebsockets closes every relayed websocket connection, both sides, as
// a node that restarts does.
func (p *Proxy) CutWebsockets() {
	p.mu.Lock()
	pairs := make([]*wsPair, 0, len(p.sockets))
	for w := range p.sockets {
		pairs = append(pairs, w)
	}
	p.mu.Unlock()
	for _, w := range pairs {
		w.close()
	}
}

// serveWebsocket connects to the node's websocket with the client's
// credentials, then upgrades the client and relays messages both ways:
// calls are counted (and held by Hang and Delay), notifications counted.
func (p *Proxy) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	if p.faults.isDown() {
		http.Error(w, "rpcproxy: node down", http.StatusServiceUnavailable)
		return
	}
	header := http.Header{}
	if v := r.Header.Get("Authorization"); v != "" {
		header.Set("Authorization", v)
	}
	dialer := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	node, resp, err := dialer.Dial("ws://"+p.target+r.URL.RequestURI(), header)
	if err != nil {
		status := http.StatusBadGateway
		if resp != nil {
			status = resp.StatusCode
		}
		http.Error(w, "rpcproxy: node websocket: "+err.Error(), status)
		return
	}
	up := &websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	client, err := up.Upgrade(w, r, nil)
	if err != nil {
		_ = node.Close()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	pair := &wsPair{client: client, node: node, ctx: ctx, cancel: cancel}
	p.mu.Lock()
	p.sockets[pair] = struct{}{}
	p.wsConns++
	p.mu.Unlock()
	defer func() {
		pair.close()
		p.mu.Lock()
		delete(p.sockets, pair)
		p.mu.Unlock()
	}()
	go p.pump(pair, node, client, false)
	p.pump(pair, client, node, true)
}

// pump relays messages from src to dst until either side fails; fromClient
// tells calls (counted, held) from the node's replies and notifications.
func (p *Proxy) pump(pair *wsPair, src, dst *websocket.Conn, fromClient bool) {
	defer pair.close()
	for {
		kind, msg, err := src.ReadMessage()
		if err != nil {
			return
		}
		if fromClient {
			reqs, _, ok := parseCalls(msg)
			names := methods(reqs, ok)
			p.count(names)
			if p.faults.wait(pair.ctx, names) != nil {
				return
			}
		} else {
			if m := notification(msg); m != "" {
				p.mu.Lock()
				p.notes[m]++
				p.mu.Unlock()
			}
			if p.faults.wait(pair.ctx, nil) != nil { // Hang("") holds pushes too
				return
			}
		}
		if err := dst.WriteMessage(kind, msg); err != nil {
			return
		}
	}
}

// notification returns the method of a notification from the node (a
// message with a method and no id), "" for anything else.
func notification(msg []byte) string {
	var n struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
	}
	if json.Unmarshal(msg, &n) != nil || n.Method == "" {
		return ""
	}
	if len(n.ID) > 0 && string(n.ID) != "null" {
		return ""
	}
	return n.Method
}
