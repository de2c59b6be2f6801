package monero

import (
	"context"
	"fmt"
)

// DaemonClient talks to monerod's RPC.
type DaemonClient struct{ r *rpc }

// NewDaemonClient returns a client for the monerod at baseURL
// (http://host:port).
func NewDaemonClient(baseURL string, o ClientOptions) (*DaemonClient, error) {
	r, err := newRPC("monerod", "monero.daemon_rpc", baseURL, o)
	if err != nil {
		return nil, err
	}
	return &DaemonClient{r: r}, nil
}

// Call runs any monerod JSON-RPC method (tests and tools).
func (d *DaemonClient) Call(ctx context.Context, method string, params, out any) error {
	return d.r.jsonRPC(ctx, method, params, out)
}

// Plain POSTs to one of monerod's plain JSON endpoints (/get_transactions,
// /send_raw_transaction, ...) (tests and tools).
func (d *DaemonClient) Plain(ctx context.Context, path string, params, out any) error {
	return d.r.plain(ctx, path, params, out)
}

// Info is the part of get_info this package uses.
type Info struct {
	Height       int64  `json:"height"` // number of blocks: the tip is Height-1
	TargetHeight int64  `json:"target_height"`
	Synchronized bool   `json:"synchronized"`
	BusySyncing  bool   `json:"busy_syncing"`
	Offline      bool   `json:"offline"`
	TopBlockHash string `json:"top_block_hash"`
	TxPoolSize   uint64 `json:"tx_pool_size"`
	Status       string `json:"status"`
	Nettype      string `json:"nettype"`
}

// GetInfo returns the daemon's chain state.
func (d *DaemonClient) GetInfo(ctx context.Context) (Info, error) {
	var out Info
	if err := d.r.jsonRPC(ctx, "get_info", nil, &out); err != nil {
		return Info{}, err
	}
	if out.Status != "" && out.Status != "OK" {
		return out, fmt.Errorf("monerod get_info: status %q", out.Status)
	}
	return out, nil
}

// BlockHeader is the part of a block header this package uses.
type BlockHeader struct {
	Height int64  `json:"height"`
	Hash   string `json:"hash"`
}

// BlockHeaderByHeight returns the header of the main-chain block at height.
func (d *DaemonClient) BlockHeaderByHeight(ctx context.Context, height int64) (BlockHeader, error) {
	var out struct {
		BlockHeader BlockHeader `json:"block_header"`
	}
	err := d.r.jsonRPC(ctx, "get_block_header_by_height", map[string]any{"height": height}, &out)
	return out.BlockHeader, err
}

// GenerateBlocks mines n blocks to address (regtest / --fixed-difficulty
// only) and returns the last block's height.
func (d *DaemonClient) GenerateBlocks(ctx context.Context, n int, address string) (int64, error) {
	var out struct {
		Height int64 `json:"height"`
	}
	err := d.r.jsonRPC(ctx, "generateblocks", map[string]any{"amount_of_blocks": n, "wallet_address": address}, &out)
	return out.Height, err
}

// FlushTxpool drops every transaction from the pool (tests).
func (d *DaemonClient) FlushTxpool(ctx context.Context) error {
	return d.r.jsonRPC(ctx, "flush_txpool", nil, nil)
}

// SendResult is /send_raw_transaction's answer.
type SendResult struct {
	Status      string `json:"status"`
	Reason      string `json:"reason"`
	DoubleSpend bool   `json:"double_spend"`
	NotRelayed  bool   `json:"not_relayed"`
}

// SendRawTransaction submits a transaction in hex.
func (d *DaemonClient) SendRawTransaction(ctx context.Context, txHex string) (SendResult, error) {
	var out SendResult
	err := d.r.plain(ctx, "/send_raw_transaction", map[string]any{"tx_as_hex": txHex, "do_not_relay": false}, &out)
	return out, err
}

// PopBlocks removes the top n blocks (tests: a reorg); their transactions go
// back to the pool.
func (d *DaemonClient) PopBlocks(ctx context.Context, n int) (int64, error) {
	var out struct {
		Height int64  `json:"height"`
		Status string `json:"status"`
	}
	if err := d.r.plain(ctx, "/pop_blocks", map[string]any{"nblocks": n}, &out); err != nil {
		return 0, err
	}
	if out.Status != "OK" {
		return 0, fmt.Errorf("monerod pop_blocks: status %q", out.Status)
	}
	return out.Height, nil
}
