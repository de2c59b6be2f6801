package monero

import (
	"context"
	"encoding/json"
	"fmt"
)

// Transfer is one entry of get_transfers / get_transfer_by_txid. Amounts are
// piconero. Every number is decoded into a field of its exact range (an
// amount or unlock_time into a uint64, a height into an int64, an index
// into a uint32): a negative, fractional or too large number, or a value of
// the wrong type, makes the entry malformed rather than the call fail.
type Transfer struct {
	TxID                            string            `json:"txid"`
	Address                         string            `json:"address"`
	Amount                          uint64            `json:"amount"`
	Amounts                         []uint64          `json:"amounts"`
	Fee                             uint64            `json:"fee"`
	Height                          int64             `json:"height"` // 0 in the pool
	Confirmations                   uint64            `json:"confirmations"`
	Timestamp                       uint64            `json:"timestamp"`
	UnlockTime                      uint64            `json:"unlock_time"`
	Locked                          bool              `json:"locked"`
	DoubleSpendSeen                 bool              `json:"double_spend_seen"`
	SubaddrIndex                    SubaddressIndex   `json:"subaddr_index"`
	SubaddrIndices                  []SubaddressIndex `json:"subaddr_indices"`
	SuggestedConfirmationsThreshold uint64            `json:"suggested_confirmations_threshold"`
	Type                            string            `json:"type"`
	PaymentID                       string            `json:"payment_id"`
}

// MalformedTransfer is an entry of a get_transfers answer that could not be
// decoded; it is left out of its category's list.
type MalformedTransfer struct {
	Category string // "in", "pool", ...
	Index    int    // its position in the category's array
	TxID     string // when the entry has a txid string
	Err      error
}

// TransfersQuery selects get_transfers entries.
type TransfersQuery struct {
	In, Out, Pending, Failed, Pool bool
	Account                        uint32
	SubaddrIndices                 []uint32
	// FilterByHeight applies MinHeight (exclusive) and MaxHeight (inclusive).
	FilterByHeight bool
	MinHeight      int64
	MaxHeight      int64
}

// Transfers is get_transfers's answer; absent categories are nil.
type Transfers struct {
	In      []Transfer `json:"in"`
	Out     []Transfer `json:"out"`
	Pending []Transfer `json:"pending"`
	Failed  []Transfer `json:"failed"`
	Pool    []Transfer `json:"pool"`
	// Malformed lists the entries that could not be decoded.
	Malformed []MalformedTransfer `json:"-"`
}

// GetTransfers lists transfers per q. One malformed entry does not fail the
// call: it is reported in Malformed and the others are returned.
func (w *WalletClient) GetTransfers(ctx context.Context, q TransfersQuery) (Transfers, error) {
	params := map[string]any{
		"in": q.In, "out": q.Out, "pending": q.Pending, "failed": q.Failed, "pool": q.Pool,
		"account_index": q.Account,
	}
	if len(q.SubaddrIndices) > 0 {
		params["subaddr_indices"] = q.SubaddrIndices
	}
	if q.FilterByHeight {
		params["filter_by_height"] = true
		params["min_height"] = q.MinHeight
		params["max_height"] = q.MaxHeight
	}
	var raw struct {
		In, Out, Pending, Failed, Pool []json.RawMessage
	}
	if err := w.r.jsonRPC(ctx, "get_transfers", params, &raw); err != nil {
		return Transfers{}, err
	}
	var out Transfers
	out.In = decodeTransfers(raw.In, "in", &out.Malformed)
	out.Out = decodeTransfers(raw.Out, "out", &out.Malformed)
	out.Pending = decodeTransfers(raw.Pending, "pending", &out.Malformed)
	out.Failed = decodeTransfers(raw.Failed, "failed", &out.Malformed)
	out.Pool = decodeTransfers(raw.Pool, "pool", &out.Malformed)
	return out, nil
}

// decodeTransfers decodes each entry on its own; nil stays nil.
func decodeTransfers(raw []json.RawMessage, category string, bad *[]MalformedTransfer) []Transfer {
	if raw == nil {
		return nil
	}
	out := make([]Transfer, 0, len(raw))
	for i, r := range raw {
		var t Transfer
		if err := json.Unmarshal(r, &t); err != nil {
			var id struct {
				TxID string `json:"txid"`
			}
			_ = json.Unmarshal(r, &id) // best effort, for the log line
			*bad = append(*bad, MalformedTransfer{Category: category, Index: i, TxID: truncate(id.TxID, 64),
				Err: fmt.Errorf("get_transfers %s[%d]: %w", category, i, err)})
			continue
		}
		out = append(out, t)
	}
	return out
}
