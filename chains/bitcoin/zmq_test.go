package bitcoin

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/go-zeromq/zmq4"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/zmqsub"
	"github.com/ipnd/ipnd/ledger"
)

// corePub publishes frames in Bitcoin Core's ZMQ format (topic | body |
// 4-byte little-endian sequence number per topic): Debian's litecoind is
// built without ZMQ, so bitcoind's push is tested at the frame level.
type corePub struct {
	t    *testing.T
	sock zmq4.Socket
	url  string
	seq  map[string]uint32
}

func startCorePub(t *testing.T) *corePub {
	t.Helper()
	sock := zmq4.NewPub(context.Background(), zmq4.WithLogger(log.New(io.Discard, "", 0)))
	if err := sock.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	p := &corePub{t: t, sock: sock, url: "tcp://" + sock.Addr().String(), seq: map[string]uint32{}}
	t.Cleanup(func() { sock.Close() })
	return p
}

// waitSubscribed waits until the watcher's subscriptions reached the
// publisher (PUB drops what is published before).
func (p *corePub) waitSubscribed(topics ...string) {
	p.t.Helper()
	waitFor(p.t, "subscriptions "+p.url, func() bool {
		have := p.sock.(zmq4.Topics).Topics()
		for _, topic := range topics {
			if !slices.Contains(have, topic) {
				return false
			}
		}
		return true
	})
}

// publish sends body under topic with the topic's next sequence number;
// skip first leaves numbers out (messages "lost" on the way).
func (p *corePub) publish(topic string, body []byte, skip uint32) {
	p.t.Helper()
	p.seq[topic] += skip
	seq := p.seq[topic]
	p.seq[topic]++
	if err := p.sock.Send(zmq4.NewMsgFrom([]byte(topic), body, binary.LittleEndian.AppendUint32(nil, seq))); err != nil {
		p.t.Fatalf("publish: %v", err)
	}
}

func rawTx(t *testing.T, tx *wire.MsgTx) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tx.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// displayHash is a hash's 32 bytes in the order Core publishes them (the
// RPC's display order).
func displayHash(h chainhash.Hash) []byte {
	b := h[:]
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[len(b)-1-i]
	}
	return out
}

func zmqEnv(t *testing.T, push PushConfig) (*env, *countingNode) {
	t.Helper()
	e := newEnv(t, nil, P2WPKH, 5)
	node := &countingNode{Client: e.client()}
	e.w = NewWatcher(node, e.ledger, e.d, WatcherConfig{GapLimit: 5, PollInterval: time.Hour, MaxBackoff: 200 * time.Millisecond,
		ProgressInterval: time.Hour, Push: push})
	e.w.beat = time.Hour
	e.alloc = NewAllocator(e.d, e.ledger, e.w)
	return e, node
}

// rawtx + hashblock from a publisher in Core's format: a payment and its
// block are recorded from the messages alone (no look at the whole
// mempool); a sequence gap (lost messages) makes the watcher look at the
// whole mempool, where it finds the payment whose message was lost.
func TestWatcherPushZMQRawTx(t *testing.T) {
	pub := startCorePub(t)
	e, node := zmqEnv(t, PushConfig{Mode: PushZMQ, ZMQRawTx: pub.url, ZMQHashBlock: pub.url})
	runWatcher(t, e.ctx, e.w)
	pub.waitSubscribed(zmqsub.TopicRawTx, zmqsub.TopicHashBlock)
	waitFor(t, "push working and synced", func() bool {
		st := e.w.Status()
		return st.Feed == "zmq" && st.State == chains.Synced
	})
	addr := e.allocate()
	waitFor(t, "the resync round", func() bool { return e.w.pool.resyncs.Load() >= 1 })
	lists := node.lists.Load()

	tx := e.node.Pay(btcdtest.Output{Address: addr, Amount: 61_000})
	pub.publish(zmqsub.TopicRawTx, rawTx(t, tx), 0)
	waitFor(t, "unconfirmed deposit from rawtx", func() bool { return e.status(addr, btcdtest.TxID(tx)) == ledger.StatusMempool })
	hash := e.node.Generate(1)[0]
	pub.publish(zmqsub.TopicHashBlock, displayHash(*hash), 0)
	waitFor(t, "confirmed deposit from hashblock", func() bool { return e.status(addr, btcdtest.TxID(tx)) == ledger.StatusConfirmed })
	if n := node.lists.Load(); n != lists {
		t.Fatalf("%d looks at the whole mempool while push worked", n-lists)
	}

	// Lost messages: tx2's rawtx never arrives; the next message's number
	// shows the gap.
	tx2 := e.node.Pay(btcdtest.Output{Address: addr, Amount: 62_000})
	other := e.node.Pay(btcdtest.Output{Address: btcdtest.NewWallet(t).Address.EncodeAddress(), Amount: 1_000})
	pub.publish(zmqsub.TopicRawTx, rawTx(t, other), 3)
	waitFor(t, "the payment found after the gap", func() bool { return e.status(addr, btcdtest.TxID(tx2)) == ledger.StatusMempool })
	if node.lists.Load() == lists {
		t.Fatal("the gap did not make the watcher look at the whole mempool")
	}
	if st := e.w.Status(); st.Feed != "zmq" {
		t.Fatalf("feed after the gap: %+v", st)
	}
}

// sequence from a publisher in Core's format: "A" brings a transaction id
// the watcher fetches, "C" a block; a malformed message makes it look
// again instead of stalling.
func TestWatcherPushZMQSequence(t *testing.T) {
	pub := startCorePub(t)
	e, node := zmqEnv(t, PushConfig{Mode: PushZMQ, ZMQSequence: pub.url})
	runWatcher(t, e.ctx, e.w)
	pub.waitSubscribed(zmqsub.TopicSequence)
	waitFor(t, "push working", func() bool { return e.w.Status().Feed == "zmq" })
	addr := e.allocate()
	waitFor(t, "the resync round", func() bool { return e.w.pool.resyncs.Load() >= 1 })
	lists := node.lists.Load()

	tx := e.node.Pay(btcdtest.Output{Address: addr, Amount: 71_000})
	added := append(displayHash(tx.TxHash()), 'A')
	added = binary.LittleEndian.AppendUint64(added, 1)
	pub.publish(zmqsub.TopicSequence, added, 0)
	waitFor(t, "unconfirmed deposit from A", func() bool { return e.status(addr, btcdtest.TxID(tx)) == ledger.StatusMempool })
	hash := e.node.Generate(1)[0]
	pub.publish(zmqsub.TopicSequence, append(displayHash(*hash), 'C'), 0)
	waitFor(t, "confirmed deposit from C", func() bool { return e.status(addr, btcdtest.TxID(tx)) == ledger.StatusConfirmed })
	if n := node.lists.Load(); n != lists {
		t.Fatalf("%d looks at the whole mempool while push worked", n-lists)
	}
	tx2 := e.node.Pay(btcdtest.Output{Address: addr, Amount: 72_000})
	pub.publish(zmqsub.TopicSequence, []byte("not a sequence message"), 0)
	waitFor(t, "the payment found after the malformed message", func() bool {
		return e.status(addr, btcdtest.TxID(tx2)) == ledger.StatusMempool
	})
}
