package bitcoin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// ChainInfo is the part of getblockchaininfo the watcher uses.
type ChainInfo struct {
	Chain                string `json:"chain"`
	Blocks               int64  `json:"blocks"`
	Headers              int64  `json:"headers"`
	BestBlockHash        string `json:"bestblockhash"`
	InitialBlockDownload bool   `json:"initialblockdownload"`
	Pruned               bool   `json:"pruned"`
	PruneHeight          int64  `json:"pruneheight"`
}

// ChainInfo calls getblockchaininfo.
func (c *Client) ChainInfo(ctx context.Context) (ChainInfo, error) {
	var ci ChainInfo
	err := c.Call(ctx, "getblockchaininfo", &ci)
	return ci, err
}

// BlockHash calls getblockhash.
func (c *Client) BlockHash(ctx context.Context, height int64) (string, error) {
	var h string
	err := c.Call(ctx, "getblockhash", &h, height)
	return h, err
}

// BestBlockHash calls getbestblockhash.
func (c *Client) BestBlockHash(ctx context.Context) (string, error) {
	var h string
	err := c.Call(ctx, "getbestblockhash", &h)
	return h, err
}

// RawBlock calls getblock HASH 0 and returns the block's wire bytes.
func (c *Client) RawBlock(ctx context.Context, hash string) ([]byte, error) {
	var b hexBytes
	if err := c.Call(ctx, "getblock", &b, hash, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// RawMempool calls getrawmempool: the txids of the node's mempool, decoded
// straight from the answer (no string per transaction).
func (c *Client) RawMempool(ctx context.Context) ([]chainhash.Hash, error) {
	var ids txidList
	err := c.Call(ctx, "getrawmempool", &ids)
	return ids, err
}

// MempoolInfo is the part of getmempoolinfo the watcher uses.
type MempoolInfo struct {
	Size  int64 `json:"size"`
	Bytes int64 `json:"bytes"`
	// TotalFee (Core 23+) changes when a transaction is replaced by one of
	// the same size.
	TotalFee json.Number `json:"total_fee"`
	// Loaded: bitcoind has loaded its saved mempool (mempool.dat); nil
	// from btcd, which keeps no mempool across restarts.
	Loaded *bool `json:"loaded"`
}

// MempoolInfo calls getmempoolinfo: a cheap check whether the mempool
// changed.
func (c *Client) MempoolInfo(ctx context.Context) (MempoolInfo, error) {
	var mi MempoolInfo
	err := c.Call(ctx, "getmempoolinfo", &mi)
	return mi, err
}

// Uptime calls uptime: seconds since the node started.
func (c *Client) Uptime(ctx context.Context) (int64, error) {
	var s int64
	err := c.Call(ctx, "uptime", &s)
	return s, err
}

// ZMQNotification is one publisher bitcoind has (getzmqnotifications).
type ZMQNotification struct {
	Type    string `json:"type"`    // pubrawtx, pubhashblock, pubsequence, ...
	Address string `json:"address"` // tcp://127.0.0.1:28332
}

// ZMQNotifications calls getzmqnotifications; a node without it (btcd, a
// Core built without ZMQ) has none.
func (c *Client) ZMQNotifications(ctx context.Context) ([]ZMQNotification, error) {
	var ns []ZMQNotification
	err := c.Call(ctx, "getzmqnotifications", &ns)
	if isMethodNotFound(err) {
		return nil, nil
	}
	return ns, err
}

// RawTransaction calls getrawtransaction TXID and returns the wire bytes.
// The verbosity argument is left out: bitcoind wants a boolean (before 25)
// and btcd an integer, and both default to raw hex.
func (c *Client) RawTransaction(ctx context.Context, txid string) ([]byte, error) {
	var b hexBytes
	if err := c.Call(ctx, "getrawtransaction", &b, txid); err != nil {
		return nil, err
	}
	return b, nil
}

// batchItem is one answer of a batch.
type batchItem struct {
	ID     uint64    `json:"id"`
	Result hexBytes  `json:"result"`
	Error  *RPCError `json:"error"`
}

// RawTransactions fetches many transactions with getrawtransaction in one
// batched request (a JSON array of calls in one POST): raws[i] is the wire
// form of ids[i], or nil with errs[i] saying why (isNotFound: the node no
// longer has it). err is for the batch as a whole. An answer too large for
// one request is fetched in halves.
func (c *Client) RawTransactions(ctx context.Context, ids []chainhash.Hash) (raws [][]byte, errs []error, err error) {
	raws, errs = make([][]byte, len(ids)), make([]error, len(ids))
	if len(ids) == 0 {
		return raws, errs, nil
	}
	base := c.id.Add(uint64(len(ids))) - uint64(len(ids)) + 1
	reqs := make([]rpcRequest, len(ids))
	for i, id := range ids {
		reqs[i] = rpcRequest{JSONRPC: "1.0", ID: base + uint64(i), Method: "getrawtransaction", Params: []any{id.String()}}
	}
	var items []batchItem
	err = c.post(ctx, "getrawtransaction batch", reqs, &items)
	if errors.Is(err, errAnswerTooLarge) && len(ids) > 1 {
		half := len(ids) / 2
		r1, e1, err := c.RawTransactions(ctx, ids[:half])
		if err != nil {
			return nil, nil, err
		}
		r2, e2, err := c.RawTransactions(ctx, ids[half:])
		if err != nil {
			return nil, nil, err
		}
		return append(r1, r2...), append(e1, e2...), nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		// A node without batch support answered with one error object:
		// one call per transaction.
		for i, id := range ids {
			raws[i], errs[i] = c.RawTransaction(ctx, id.String())
			if errs[i] != nil && !isNotFound(errs[i]) {
				var re *RPCError
				if !errors.As(errs[i], &re) {
					return nil, nil, errs[i]
				}
			}
		}
		return raws, errs, nil
	}
	if err != nil {
		c.CloseIdle()
		return nil, nil, err
	}
	got := make([]bool, len(ids))
	for _, it := range items {
		i := it.ID - base
		if it.ID < base || i >= uint64(len(ids)) || got[i] {
			return nil, nil, fmt.Errorf("getrawtransaction batch: answer with unexpected id %d", it.ID)
		}
		got[i] = true
		switch {
		case it.Error != nil:
			errs[i] = fmt.Errorf("getrawtransaction %s: %w", ids[i], it.Error)
		case it.Result == nil:
			errs[i] = fmt.Errorf("getrawtransaction %s: empty answer", ids[i])
		default:
			raws[i] = it.Result
		}
	}
	for i, ok := range got {
		if !ok {
			return nil, nil, fmt.Errorf("getrawtransaction batch: no answer for %s", ids[i])
		}
	}
	return raws, errs, nil
}

// hexBytes is a JSON hex string decoded straight into bytes.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*h = nil
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New("hex result: not a string")
	}
	b = b[1 : len(b)-1]
	out := make([]byte, hex.DecodedLen(len(b)))
	if _, err := hex.Decode(out, b); err != nil {
		return fmt.Errorf("hex result: %w", err)
	}
	*h = out
	return nil
}

// txidList is a JSON array of txids (display hex) decoded straight into
// hashes (internal byte order).
type txidList []chainhash.Hash

func (l *txidList) UnmarshalJSON(b []byte) error {
	ids, err := parseTxIDs(b, (*l)[:0])
	if err != nil {
		return err
	}
	*l = ids
	return nil
}

var _ json.Unmarshaler = (*txidList)(nil)

// parseTxIDs reads a JSON array of 64-hex-digit strings.
func parseTxIDs(b []byte, dst []chainhash.Hash) ([]chainhash.Hash, error) {
	i := skipSpace(b, 0)
	if i+4 <= len(b) && string(b[i:i+4]) == "null" && skipSpace(b, i+4) == len(b) {
		return dst, nil
	}
	if i >= len(b) || b[i] != '[' {
		return nil, errors.New("txid list: not an array")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		if skipSpace(b, i+1) != len(b) {
			return nil, errors.New("txid list: data after the array")
		}
		return dst, nil
	}
	for {
		if i+66 > len(b) || b[i] != '"' || b[i+65] != '"' {
			return nil, fmt.Errorf("txid list: item at byte %d is not a 64-digit hex string", i)
		}
		var h chainhash.Hash
		if _, err := hex.Decode(h[:], b[i+1:i+65]); err != nil {
			return nil, fmt.Errorf("txid list: %w", err)
		}
		for x, y := 0, chainhash.HashSize-1; x < y; x, y = x+1, y-1 {
			h[x], h[y] = h[y], h[x]
		}
		dst = append(dst, h)
		i = skipSpace(b, i+66)
		if i >= len(b) {
			return nil, errors.New("txid list: unterminated array")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			if skipSpace(b, i+1) != len(b) {
				return nil, errors.New("txid list: data after the array")
			}
			return dst, nil
		default:
			return nil, fmt.Errorf("txid list: unexpected %q at byte %d", b[i], i)
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
