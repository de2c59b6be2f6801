package zmqsub

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
)

// monerod's ZMQ topics (`--zmq-pub`, monerod 0.18). Each message is one frame,
// `<topic>:<json>`. The minimal variants are what a watcher needs: ids and
// sizes, no transaction or block bodies.
const (
	TopicMoneroTxPoolAdd     = "json-minimal-txpool_add" // body: see ParseMoneroTxPoolAdd
	TopicMoneroChainMain     = "json-minimal-chain_main" // body: see ParseMoneroChainMain
	TopicMoneroFullTxPoolAdd = "json-full-txpool_add"    // body: the transactions as JSON
	TopicMoneroFullChainMain = "json-full-chain_main"    // body: the blocks as JSON
)

// MaxMoneroJSON bounds the body the Parse functions accept. A minimal
// txpool_add entry is about 150 bytes, a block id 66: 4 MiB holds tens of
// thousands of either.
const MaxMoneroJSON = 4 << 20

// splitMonero splits monerod's single frame `<topic>:<json>`.
func splitMonero(frames [][]byte) (topic string, body []byte, err error) {
	if len(frames) != 1 {
		return "", nil, fmt.Errorf("%w: %d frames, monerod sends 1 (topic:json)", ErrMalformed, len(frames))
	}
	t, b, ok := bytes.Cut(frames[0], []byte{':'})
	if !ok {
		return "", nil, fmt.Errorf("%w: no ':' after the topic", ErrMalformed)
	}
	return string(t), b, nil
}

// MoneroTx is one transaction of a json-minimal-txpool_add message: a
// transaction monerod added to its pool (monerod 0.18 publishes only those
// received from peers, not one submitted to it over RPC).
type MoneroTx struct {
	ID       string // txid, 64 lowercase hex digits
	BlobSize uint64 // bytes
	Weight   uint64
	Fee      uint64 // atomic units
}

// ParseMoneroTxPoolAdd decodes a json-minimal-txpool_add body,
// `[{"id":"<hex>","blob_size":N,"weight":N,"fee":N},...]`. Unknown fields are
// ignored; a missing or malformed id, a negative, fractional or out-of-range
// number, or a body over MaxMoneroJSON is an error wrapping ErrMalformed.
func ParseMoneroTxPoolAdd(body []byte) ([]MoneroTx, error) {
	if len(body) > MaxMoneroJSON {
		return nil, fmt.Errorf("%w: txpool_add body of %d bytes exceeds %d", ErrMalformed, len(body), MaxMoneroJSON)
	}
	var raw []struct {
		ID       *string `json:"id"`
		BlobSize uint64  `json:"blob_size"`
		Weight   uint64  `json:"weight"`
		Fee      uint64  `json:"fee"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: txpool_add: %w", ErrMalformed, err)
	}
	txs := make([]MoneroTx, 0, len(raw))
	for i, r := range raw {
		if r.ID == nil {
			return nil, fmt.Errorf("%w: txpool_add entry %d has no id", ErrMalformed, i)
		}
		id, err := moneroHash(*r.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: txpool_add entry %d: id %w", ErrMalformed, i, err)
		}
		txs = append(txs, MoneroTx{ID: id, BlobSize: r.BlobSize, Weight: r.Weight, Fee: r.Fee})
	}
	return txs, nil
}

// MoneroChainMain is a json-minimal-chain_main message: blocks added to the
// main chain, IDs[i] at height FirstHeight+i. More than one id comes with a
// reorganisation; FirstPrevID is the parent of the first block, so a
// subscriber that knows the block at FirstHeight-1 can tell whether it still
// is the parent.
type MoneroChainMain struct {
	FirstHeight uint64
	FirstPrevID string
	IDs         []string
}

// TipHeight is the height of the last block of the message.
func (c MoneroChainMain) TipHeight() uint64 { return c.FirstHeight + uint64(len(c.IDs)) - 1 }

// ParseMoneroChainMain decodes a json-minimal-chain_main body,
// `{"first_height":N,"first_prev_id":"<hex>","ids":["<hex>",...]}`, with the
// same rules as ParseMoneroTxPoolAdd; ids must not be empty and the heights
// must fit an int64.
func ParseMoneroChainMain(body []byte) (MoneroChainMain, error) {
	var c MoneroChainMain
	if len(body) > MaxMoneroJSON {
		return c, fmt.Errorf("%w: chain_main body of %d bytes exceeds %d", ErrMalformed, len(body), MaxMoneroJSON)
	}
	var raw struct {
		FirstHeight *uint64  `json:"first_height"`
		FirstPrevID string   `json:"first_prev_id"`
		IDs         []string `json:"ids"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return c, fmt.Errorf("%w: chain_main: %w", ErrMalformed, err)
	}
	if raw.FirstHeight == nil {
		return c, fmt.Errorf("%w: chain_main without first_height", ErrMalformed)
	}
	if len(raw.IDs) == 0 {
		return c, fmt.Errorf("%w: chain_main without ids", ErrMalformed)
	}
	if *raw.FirstHeight > math.MaxInt64-uint64(len(raw.IDs)) {
		return c, fmt.Errorf("%w: chain_main first_height %d out of range", ErrMalformed, *raw.FirstHeight)
	}
	prev, err := moneroHash(raw.FirstPrevID)
	if err != nil {
		return c, fmt.Errorf("%w: chain_main first_prev_id %w", ErrMalformed, err)
	}
	c = MoneroChainMain{FirstHeight: *raw.FirstHeight, FirstPrevID: prev, IDs: make([]string, len(raw.IDs))}
	for i, id := range raw.IDs {
		if c.IDs[i], err = moneroHash(id); err != nil {
			return MoneroChainMain{}, fmt.Errorf("%w: chain_main ids[%d] %w", ErrMalformed, i, err)
		}
	}
	return c, nil
}

// moneroHash validates a 32-byte hash in hex and returns it in lowercase,
// the form wallet-rpc and daemon RPC use for txids and block ids.
func moneroHash(s string) (string, error) {
	if len(s) != 64 {
		return "", fmt.Errorf("of %d characters, want 64 hex digits", len(s))
	}
	var b [32]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return "", fmt.Errorf("is not hex: %v", err)
	}
	return hex.EncodeToString(b[:]), nil
}
