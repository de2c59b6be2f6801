package zmqsub

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// Bitcoin Core's ZMQ topics (doc/zmq.md). Each is published as a three-frame
// message: topic, body, and a 4-byte little-endian sequence number counted per
// topic and publishing address from 0 at the node's start.
const (
	TopicHashBlock = "hashblock" // body: 32-byte block hash
	TopicHashTx    = "hashtx"    // body: 32-byte txid
	TopicRawBlock  = "rawblock"  // body: the serialized block
	TopicRawTx     = "rawtx"     // body: the serialized transaction (with witness)
	TopicSequence  = "sequence"  // body: see ParseSequence (Core 0.21+)
)

// ErrMalformed is wrapped by every decoding error: the publisher sent
// something that does not have the documented shape.
var ErrMalformed = errors.New("malformed zmq message")

// splitCore checks a Bitcoin Core message (topic, body, sequence) and returns
// its parts.
func splitCore(frames [][]byte) (topic string, body []byte, seq uint32, err error) {
	if len(frames) != 3 {
		return "", nil, 0, fmt.Errorf("%w: %d frames, Bitcoin Core sends 3 (topic, body, sequence)", ErrMalformed, len(frames))
	}
	if len(frames[2]) != 4 {
		return "", nil, 0, fmt.Errorf("%w: sequence frame of %d bytes, want 4", ErrMalformed, len(frames[2]))
	}
	return string(frames[0]), frames[1], binary.LittleEndian.Uint32(frames[2]), nil
}

// ParseHash decodes the body of a hashblock or hashtx message.
//
// Bitcoin Core reverses the hash's internal byte order before publishing
// (zmqpublishnotifier.cpp copies hash.begin()[i] to data[31-i]), so the 32
// bytes arrive in the order the RPC interface and explorers display: their
// hex encoding equals `getbestblockhash`'s answer. (doc/zmq.md's note that
// the hashes are "in Little Endian" describes the internal order, which is
// not what is on the wire.) The returned chainhash.Hash holds the internal
// order, so its String() is that same display hex.
func ParseHash(body []byte) (chainhash.Hash, error) {
	var h chainhash.Hash
	if len(body) != chainhash.HashSize {
		return h, fmt.Errorf("%w: hash of %d bytes, want %d", ErrMalformed, len(body), chainhash.HashSize)
	}
	for i := range chainhash.HashSize {
		h[i] = body[chainhash.HashSize-1-i]
	}
	return h, nil
}

// SequenceLabel says what a `sequence` message reports.
type SequenceLabel byte

// The labels of Core's `sequence` topic.
const (
	BlockConnected    SequenceLabel = 'C'
	BlockDisconnected SequenceLabel = 'D'
	TxAdded           SequenceLabel = 'A' // added to the mempool
	TxRemoved         SequenceLabel = 'R' // removed from the mempool for a reason other than a block
)

func (l SequenceLabel) String() string {
	switch l {
	case BlockConnected:
		return "block connected"
	case BlockDisconnected:
		return "block disconnected"
	case TxAdded:
		return "tx added to mempool"
	case TxRemoved:
		return "tx removed from mempool"
	}
	return fmt.Sprintf("label 0x%02x", byte(l))
}

// SequenceEvent is a decoded `sequence` message body.
type SequenceEvent struct {
	Label SequenceLabel
	// Hash is the block hash (C, D) or the txid (A, R), internal byte order.
	Hash chainhash.Hash
	// MempoolSequence is the node's mempool sequence number (A and R only;
	// compare with getrawmempool's mempool_sequence). It is not the ZMQ
	// message sequence number.
	MempoolSequence uint64
}

// IsBlock reports whether the event is a block connect or disconnect.
func (e SequenceEvent) IsBlock() bool {
	return e.Label == BlockConnected || e.Label == BlockDisconnected
}

// ParseSequence decodes the body of a `sequence` message:
// <32-byte hash, display order><label> for blocks and
// <32-byte hash><label><8-byte LE mempool sequence> for mempool events.
func ParseSequence(body []byte) (SequenceEvent, error) {
	var e SequenceEvent
	if len(body) < chainhash.HashSize+1 {
		return e, fmt.Errorf("%w: sequence body of %d bytes", ErrMalformed, len(body))
	}
	var err error
	if e.Hash, err = ParseHash(body[:chainhash.HashSize]); err != nil {
		return e, err
	}
	e.Label = SequenceLabel(body[chainhash.HashSize])
	rest := body[chainhash.HashSize+1:]
	switch e.Label {
	case BlockConnected, BlockDisconnected:
		if len(rest) != 0 {
			return e, fmt.Errorf("%w: %s with %d trailing bytes", ErrMalformed, e.Label, len(rest))
		}
	case TxAdded, TxRemoved:
		if len(rest) != 8 {
			return e, fmt.Errorf("%w: %s with a %d-byte mempool sequence, want 8", ErrMalformed, e.Label, len(rest))
		}
		e.MempoolSequence = binary.LittleEndian.Uint64(rest)
	default:
		return e, fmt.Errorf("%w: unknown sequence %s", ErrMalformed, e.Label)
	}
	return e, nil
}

// seqTracker follows Core's per-topic message sequence numbers on one
// connection and classifies each new number.
type seqTracker struct {
	last map[string]uint32
}

type seqVerdict int

const (
	seqFirst     seqVerdict = iota // first message of the topic on this connection
	seqInOrder                     // the expected next number
	seqGap                         // numbers were skipped: messages were lost
	seqRestarted                   // the number went back: the publisher restarted
)

// observe records seq for topic and returns the verdict and, for a gap, the
// number of messages lost. The counter is a uint32 that wraps: a number ahead
// of the expected one by less than 2^31 (mod 2^32) is a gap, any other counts
// as going back.
func (t *seqTracker) observe(topic string, seq uint32) (seqVerdict, uint32) {
	if t.last == nil {
		t.last = map[string]uint32{}
	}
	last, seen := t.last[topic]
	t.last[topic] = seq
	if !seen {
		return seqFirst, 0
	}
	expected := last + 1
	switch d := seq - expected; {
	case d == 0:
		return seqInOrder, 0
	case d < 1<<31:
		return seqGap, d
	default:
		return seqRestarted, 0
	}
}
