package bitcoin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/ipnd/ipnd/chains/zmqsub"
	"github.com/ipnd/ipnd/config"
)

// PushMode is where push notifications come from ([bitcoin] push).
type PushMode string

// Push modes.
const (
	// PushAuto: bitcoind's ZMQ when zmq_* endpoints are set or the node
	// reports publishers (getzmqnotifications), else btcd's websocket when
	// the node has one, else polling only.
	PushAuto      PushMode = "auto"
	PushWebsocket PushMode = "websocket" // btcd: notifyblocks, notifynewtransactions
	PushZMQ       PushMode = "zmq"       // bitcoind: rawtx + hashblock, or sequence
	PushOff       PushMode = "off"       // polling only
)

// PushConfig is the push part of the [bitcoin] section.
type PushConfig struct {
	Mode                                PushMode
	ZMQRawTx, ZMQHashBlock, ZMQSequence string
}

func (c PushConfig) zmqSet() bool {
	return c.ZMQRawTx != "" || c.ZMQHashBlock != "" || c.ZMQSequence != ""
}

// checkPush validates the push settings of section.
func checkPush(p *config.Problems, section string, c PushConfig) {
	for key, ep := range map[string]string{"zmq_rawtx": c.ZMQRawTx, "zmq_hashblock": c.ZMQHashBlock, "zmq_sequence": c.ZMQSequence} {
		if ep != "" {
			if err := checkEndpoint(ep); err != nil {
				p.Add(section+"."+key, "%v", err)
			}
		}
	}
	switch {
	case c.Mode == PushZMQ && c.ZMQSequence == "" && (c.ZMQRawTx == "" || c.ZMQHashBlock == ""):
		p.Add(section+".push", `"zmq" needs zmq_rawtx and zmq_hashblock, or zmq_sequence (the node's zmqpub* endpoints)`)
	case (c.Mode == PushWebsocket || c.Mode == PushOff) && c.zmqSet():
		p.Add(section+".push", "is %q, but zmq_* endpoints are set: use push = \"zmq\" or \"auto\", or remove them", c.Mode)
	}
}

// checkEndpoint accepts a ZMQ endpoint ipnd can dial: tcp://host:port or
// ipc:///path (zmqsub.ParseEndpoint), with a hint for a wildcard host.
func checkEndpoint(ep string) error {
	if _, _, err := zmqsub.ParseEndpoint(ep); err != nil {
		if d := zmqsub.Dialable(ep, ""); d != ep {
			return fmt.Errorf("%q is the node's bind address; name the host it listens on (%s)", ep, d)
		}
		return err
	}
	return nil
}

// pushSource is a push notification source: run reports to the watcher
// until ctx ends, reconnecting by itself; it returns errNoPush when the
// node has no such source (auto gives up on it).
type pushSource interface {
	name() string
	run(ctx context.Context, w *Watcher) error
}

// errNoPush: the node offers no push source of that kind.
var errNoPush = errors.New("the node offers no push notifications of this kind")

// pushState is what the rounds and the status read of push.
type pushState struct {
	healthy atomic.Bool
	mu      sync.Mutex
	source  string
}

func (p *pushState) name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.source
}

// runPush picks the push source and runs it.
func (w *Watcher) runPush(ctx context.Context) {
	c := w.cfg.Push
	var src pushSource
	switch {
	case c.zmqSet():
		src = w.zmqSource(c)
	case c.Mode == PushWebsocket:
		src = w.websocketSource()
	default: // auto, or zmq with endpoints from the node
		zc, err := w.discoverZMQ(ctx)
		if err != nil {
			return // ctx ended
		}
		switch {
		case zc.zmqSet():
			w.log.Info("push: using the node's ZMQ publishers", "rawtx", zc.ZMQRawTx, "hashblock", zc.ZMQHashBlock, "sequence", zc.ZMQSequence)
			src = w.zmqSource(zc)
		case c.Mode == PushZMQ:
			w.log.Error("push: the node reports no ZMQ publishers (getzmqnotifications); polling every second",
				"setting", w.fam.Section+".push", "fix", "start "+w.fam.hints().daemon+" with zmqpubrawtx and zmqpubhashblock (or zmqpubsequence), or set "+w.fam.Section+".zmq_*")
			return
		default:
			src = w.websocketSource()
		}
	}
	if src == nil {
		return
	}
	err := src.run(ctx, w)
	if errors.Is(err, errNoPush) {
		if c.Mode == PushAuto {
			w.log.Info("push: the node has no push notifications ipnd can use; polling every second", "source", src.name(), "why", err,
				"hint", w.fam.hints().push)
		} else {
			w.log.Error("push: not available; polling every second", "setting", w.fam.Section+".push", "source", src.name(), "err", err)
		}
	}
}

// discoverZMQ asks the node for its ZMQ publishers, retrying until it
// answers (or ctx ends).
func (w *Watcher) discoverZMQ(ctx context.Context) (PushConfig, error) {
	wait := 100 * time.Millisecond
	for {
		ns, err := w.node.ZMQNotifications(ctx)
		if err == nil {
			return zmqFromNode(ns, w.cfg.Push.Mode, w.nodeHost()), nil
		}
		select {
		case <-ctx.Done():
			return PushConfig{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// nodeHost is the host of the node's RPC address ("" when the node does
// not say: a test's fake).
func (w *Watcher) nodeHost() string {
	if n, ok := w.node.(interface{ rpcHost() string }); ok {
		return n.rpcHost()
	}
	return ""
}

// rpcHost is the host part of the client's rpc_host.
func (c *Client) rpcHost() string {
	host, _, err := net.SplitHostPort(c.cfg.Host)
	if err != nil {
		return c.cfg.Host
	}
	return host
}

// zmqFromNode turns getzmqnotifications into endpoints: sequence, or
// rawtx with hashblock. A wildcard bind address (tcp://0.0.0.0:28332)
// becomes one on nodeHost, the host of the node's RPC address: the node's
// machine as ipnd reaches it, remote or loopback.
func zmqFromNode(ns []ZMQNotification, mode PushMode, nodeHost string) PushConfig {
	c := PushConfig{Mode: mode}
	for _, n := range ns {
		addr := zmqsub.Dialable(n.Address, nodeHost)
		if checkEndpoint(addr) != nil {
			continue
		}
		switch n.Type {
		case "pubrawtx":
			c.ZMQRawTx = addr
		case "pubhashblock":
			c.ZMQHashBlock = addr
		case "pubsequence":
			c.ZMQSequence = addr
		}
	}
	if c.ZMQSequence == "" && (c.ZMQRawTx == "" || c.ZMQHashBlock == "") {
		return PushConfig{Mode: mode}
	}
	return c
}

// The push sources' reports.

// pushUp records whether the push source works.
func (w *Watcher) pushUp(source string, up bool) {
	w.push.mu.Lock()
	w.push.source = source
	w.push.mu.Unlock()
	if w.push.healthy.Swap(up) == up {
		return
	}
	w.stats.push.Store(up)
	if up {
		w.log.Info("push working: new blocks and transactions arrive at once", "source", source,
			"safety_poll", w.cfg.PollInterval, "heartbeat", min(w.cfg.PollInterval, w.beat))
	} else {
		w.log.Warn("push lost: polling every second until it is back", "source", source)
	}
	w.Poke()
}

// pushResync: the source (re)connected or lost messages: the next round
// looks at the node's chain (genesis too) and its whole mempool.
func (w *Watcher) pushResync() {
	w.checkChain.Store(true)
	w.pool.resync()
	w.Alive()
	w.Poke()
}

// pushBlock: a block was connected or disconnected.
func (w *Watcher) pushBlock() { w.Alive(); w.Poke() }

// inboxCap bounds what push sources may queue while rounds do not run (a
// ledger that does not answer): beyond it they are dropped and the next
// round looks at the whole mempool instead.
const inboxCap = 100_000

// pushTxIDs: transactions entered the node's mempool.
func (w *Watcher) pushTxIDs(ids ...chainhash.Hash) {
	w.queue(func(b *inbox) { b.txids = append(b.txids, ids...) })
}

// pushRawTx: a transaction entered the node's mempool (or a block).
func (w *Watcher) pushRawTx(raw []byte) {
	w.queue(func(b *inbox) { b.raws = append(b.raws, raw) })
}

// pushRemoved: a transaction left the node's mempool unmined.
func (w *Watcher) pushRemoved(id chainhash.Hash) {
	w.queue(func(b *inbox) { b.removed = append(b.removed, id) })
}

func (w *Watcher) queue(add func(*inbox)) {
	b := &w.pool.in
	b.mu.Lock()
	if len(b.txids)+len(b.raws)+len(b.removed) < inboxCap {
		add(b)
	} else {
		b.txids, b.raws, b.removed, b.resync = nil, nil, nil, true
	}
	b.mu.Unlock()
	w.Alive()
	w.Poke()
}
