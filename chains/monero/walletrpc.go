package monero

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Wallet-rpc error codes this package acts on (wallet_rpc_server_error_codes.h).
const (
	CodeWrongAddress    = -2  // "Address doesn't belong to the wallet", "Invalid address"
	CodeWrongTxID       = -8  // unknown transaction
	CodeNotOpen         = -13 // no wallet file open
	CodeAccountIndexOOB = -14 // account does not exist
	CodeAddressIndexOOB = -15 // subaddress does not exist
	CodeWatchOnly       = -29 // "The wallet is watch-only"
)

// WalletClient talks to monero-wallet-rpc. Calls are serialized.
type WalletClient struct{ r *rpc }

// NewWalletClient returns a client for the wallet-rpc at baseURL
// (http://host:port).
func NewWalletClient(baseURL string, o ClientOptions) (*WalletClient, error) {
	r, err := newRPC("wallet-rpc", "monero.wallet_rpc", baseURL, o)
	if err != nil {
		return nil, err
	}
	return &WalletClient{r: r}, nil
}

// Call runs any wallet-rpc JSON-RPC method (tests and tools).
func (w *WalletClient) Call(ctx context.Context, method string, params, out any) error {
	return w.r.jsonRPC(ctx, method, params, out)
}

// SubaddressIndex is a (major = account, minor = subaddress) index pair.
type SubaddressIndex struct {
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
}

// Version is get_version's answer.
type Version struct {
	Version uint32 `json:"version"`
	Release bool   `json:"release"`
}

// GetVersion returns the RPC version; a cheap liveness probe.
func (w *WalletClient) GetVersion(ctx context.Context) (Version, error) {
	var v Version
	return v, w.r.jsonRPC(ctx, "get_version", nil, &v)
}

// AddressInfo is one subaddress of get_address.
type AddressInfo struct {
	Address      string `json:"address"`
	AddressIndex uint32 `json:"address_index"`
	Label        string `json:"label"`
	Used         bool   `json:"used"`
}

// AddressResult is get_address's answer.
type AddressResult struct {
	Address   string        `json:"address"`
	Addresses []AddressInfo `json:"addresses"`
}

// GetAddress lists the subaddresses of account; with indexes only those.
func (w *WalletClient) GetAddress(ctx context.Context, account uint32, indexes []uint32) (AddressResult, error) {
	params := map[string]any{"account_index": account}
	if len(indexes) > 0 {
		params["address_index"] = indexes
	}
	var out AddressResult
	return out, w.r.jsonRPC(ctx, "get_address", params, &out)
}

// GetAddressIndex returns the (account, subaddress) indexes of one of the
// wallet's addresses; an address of another wallet is an *RPCError.
func (w *WalletClient) GetAddressIndex(ctx context.Context, address string) (SubaddressIndex, error) {
	var out struct {
		Index SubaddressIndex `json:"index"`
	}
	return out.Index, w.r.jsonRPC(ctx, "get_address_index", map[string]any{"address": address}, &out)
}

// Account is one entry of get_accounts.
type Account struct {
	AccountIndex    uint32 `json:"account_index"`
	BaseAddress     string `json:"base_address"`
	Label           string `json:"label"`
	Balance         uint64 `json:"balance"`
	UnlockedBalance uint64 `json:"unlocked_balance"`
}

// GetAccounts lists the wallet's accounts.
func (w *WalletClient) GetAccounts(ctx context.Context) ([]Account, error) {
	var out struct {
		SubaddressAccounts []Account `json:"subaddress_accounts"`
	}
	return out.SubaddressAccounts, w.r.jsonRPC(ctx, "get_accounts", nil, &out)
}

// CreateAccount adds an account and returns its index and primary address.
func (w *WalletClient) CreateAccount(ctx context.Context, label string) (uint32, string, error) {
	var out struct {
		AccountIndex uint32 `json:"account_index"`
		Address      string `json:"address"`
	}
	err := w.r.jsonRPC(ctx, "create_account", map[string]any{"label": label}, &out)
	return out.AccountIndex, out.Address, err
}

// CreateAddress adds one subaddress to account.
func (w *WalletClient) CreateAddress(ctx context.Context, account uint32, label string) (string, uint32, error) {
	var out struct {
		Address      string `json:"address"`
		AddressIndex uint32 `json:"address_index"`
	}
	err := w.r.jsonRPC(ctx, "create_address", map[string]any{"account_index": account, "label": label}, &out)
	return out.Address, out.AddressIndex, err
}

// CreateAddresses adds count subaddresses to account in one call and returns
// their addresses and indexes.
func (w *WalletClient) CreateAddresses(ctx context.Context, account uint32, count uint32, label string) ([]string, []uint32, error) {
	var out struct {
		Addresses      []string `json:"addresses"`
		AddressIndices []uint32 `json:"address_indices"`
	}
	err := w.r.jsonRPC(ctx, "create_address", map[string]any{"account_index": account, "label": label, "count": count}, &out)
	return out.Addresses, out.AddressIndices, err
}

// LabelAddress sets a subaddress's label.
func (w *WalletClient) LabelAddress(ctx context.Context, idx SubaddressIndex, label string) error {
	return w.r.jsonRPC(ctx, "label_address", map[string]any{"index": idx, "label": label}, nil)
}

// Store saves the wallet file (new subaddresses are only saved on store or
// exit).
func (w *WalletClient) Store(ctx context.Context) error {
	return w.r.jsonRPC(ctx, "store", nil, nil)
}

// RefreshResult is refresh's answer.
type RefreshResult struct {
	BlocksFetched uint64 `json:"blocks_fetched"`
	ReceivedMoney bool   `json:"received_money"`
}

// RefreshTimeout bounds one refresh call, which scans every block the
// wallet has not seen yet (the context may cut it shorter).
const RefreshTimeout = 30 * time.Minute

// Refresh makes the wallet scan new blocks now.
func (w *WalletClient) Refresh(ctx context.Context) (RefreshResult, error) {
	var out RefreshResult
	return out, w.r.jsonRPCTimeout(ctx, max(w.r.timeout, RefreshTimeout), "refresh", nil, &out)
}

// GetHeight returns the wallet's height (number of blocks it has scanned,
// like monerod's get_info height).
func (w *WalletClient) GetHeight(ctx context.Context) (int64, error) {
	var out struct {
		Height int64 `json:"height"`
	}
	return out.Height, w.r.jsonRPC(ctx, "get_height", nil, &out)
}

// QueryKey returns a wallet key ("view_key", "spend_key", "mnemonic").
// Callers must never log the result.
func (w *WalletClient) QueryKey(ctx context.Context, keyType string) (string, error) {
	var out struct {
		Key string `json:"key"`
	}
	return out.Key, w.r.jsonRPC(ctx, "query_key", map[string]any{"key_type": keyType}, &out)
}

// CanSpend reports whether the open wallet holds its spend key. A view-only
// wallet answers query_key spend_key with error -29 ("The wallet is
// watch-only", seen on wallet-rpc 0.18) or, in other versions, an all-zero
// key. The key itself is discarded at once and never returned.
func (w *WalletClient) CanSpend(ctx context.Context) (bool, error) {
	key, err := w.QueryKey(ctx, "spend_key")
	if err != nil {
		var re *RPCError
		if errors.As(err, &re) && re.Code == CodeWatchOnly {
			return false, nil
		}
		return false, fmt.Errorf("find out whether the wallet can spend: %w", err)
	}
	return strings.Trim(key, "0") != "", nil
}

// IsRPCCode reports whether err is an *RPCError with code.
func IsRPCCode(err error, code int) bool {
	var re *RPCError
	return errors.As(err, &re) && re.Code == code
}
