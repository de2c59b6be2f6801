package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/config"
)

// RPCConfig says how to reach bitcoind or btcd.
type RPCConfig struct {
	Host       string // host:port
	User       string
	Password   config.Secret
	CookiePath string // bitcoind's .cookie ("user:password"), read instead of User/Password
	// Timeout bounds one call (default 60 s: a 4 MB block as hex over a slow
	// link).
	Timeout time.Duration
}

// RPCError is an error answer of the node.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("node RPC error %d: %s", e.Code, e.Message) }

// Is makes a not-found answer (see IsNotFound) match chainsync.ErrNoBlock.
func (e *RPCError) Is(target error) bool { return target == chainsync.ErrNoBlock && IsNotFound(e) }

// Well-known node error codes.
const (
	codeWarmingUp  = -28 // RPC_IN_WARMUP: loading blocks, verifying, rewinding
	codeNotFound   = -5  // RPC_INVALID_ADDRESS_OR_KEY: no such block or transaction
	codeOutOfRange = -8  // block height out of range
)

// ErrAuth: the node refused the credentials (HTTP 401/403).
var ErrAuth = errors.New("the node refused the RPC credentials")

// IsWarmingUp reports a node that is starting (error -28).
func IsWarmingUp(err error) bool {
	var re *RPCError
	return errors.As(err, &re) && re.Code == codeWarmingUp
}

// IsNotFound reports an unknown block or transaction (-5) or height (-8).
func IsNotFound(err error) bool {
	var re *RPCError
	if !errors.As(err, &re) {
		return false
	}
	// btcd answers a height beyond its tip with -1 "Block number out of range".
	return re.Code == codeNotFound || re.Code == codeOutOfRange || strings.Contains(strings.ToLower(re.Message), "out of range")
}

// Client is a JSON-RPC client for bitcoind (0.21+) and btcd using HTTP POST,
// with per-call contexts and timeouts. No password appears in its errors.
type Client struct {
	cfg  RPCConfig
	url  string
	http *http.Client
	id   atomic.Uint64

	mu         sync.Mutex
	cookieMod  time.Time
	cookieUser string
	cookiePass string
}

// NewClient makes a client; it does not connect.
func NewClient(cfg RPCConfig) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	return &Client{
		cfg: cfg,
		url: "http://" + cfg.Host + "/",
		http: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: cfg.Timeout,
		}},
	}
}

// credentials returns user and password, re-reading the cookie file when it
// changed (bitcoind writes a new one at every start).
func (c *Client) credentials() (string, string, error) {
	if c.cfg.CookiePath == "" {
		return c.cfg.User, c.cfg.Password.Reveal(), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := os.Stat(c.cfg.CookiePath)
	if err != nil {
		return "", "", fmt.Errorf("read RPC cookie: %w", err)
	}
	if st.ModTime().Equal(c.cookieMod) && c.cookieUser != "" {
		return c.cookieUser, c.cookiePass, nil
	}
	b, err := os.ReadFile(c.cfg.CookiePath)
	if err != nil {
		return "", "", fmt.Errorf("read RPC cookie: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || user == "" {
		return "", "", fmt.Errorf("RPC cookie %s is not user:password", c.cfg.CookiePath)
	}
	c.cookieMod, c.cookieUser, c.cookiePass = st.ModTime(), user, pass
	return user, pass, nil
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
}

// Call runs one RPC; result (a pointer) receives the "result" member.
func (c *Client) Call(ctx context.Context, method string, result any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(rpcRequest{JSONRPC: "1.0", ID: c.id.Add(1), Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	user, pass, err := c.credentials()
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		_, _ = io.Copy(io.Discard, resp.Body)
		c.mu.Lock()
		c.cookieMod = time.Time{} // re-read the cookie next time
		c.mu.Unlock()
		return fmt.Errorf("%s: %w (HTTP %d)", method, ErrAuth, resp.StatusCode)
	}
	var r rpcResponse
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("%s: HTTP %d, undecodable answer: %w", method, resp.StatusCode, err)
	}
	if r.Error != nil {
		return fmt.Errorf("%s: %w", method, r.Error)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", method, resp.StatusCode)
	}
	if result == nil {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(r.Result))
	d.UseNumber()
	if err := d.Decode(result); err != nil {
		return fmt.Errorf("%s: decode result: %w", method, err)
	}
	return nil
}

// ChainInfo is the part of getblockchaininfo the watcher uses.
type ChainInfo struct {
	Chain                string `json:"chain"`
	Blocks               int64  `json:"blocks"`
	Headers              int64  `json:"headers"`
	BestBlockHash        string `json:"bestblockhash"`
	InitialBlockDownload bool   `json:"initialblockdownload"`
	Pruned               bool   `json:"pruned"`
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
	var s string
	if err := c.Call(ctx, "getblock", &s, hash, 0); err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("getblock %s: %w", hash, err)
	}
	return b, nil
}

// PrevBlockHash returns the parent of block hash (getblockheader), for
// walking back over blocks the node still knows but no longer follows.
func (c *Client) PrevBlockHash(ctx context.Context, hash string) (string, error) {
	var h struct {
		Previous string `json:"previousblockhash"`
	}
	err := c.Call(ctx, "getblockheader", &h, hash, true)
	return h.Previous, err
}

// RawMempool calls getrawmempool (txids).
func (c *Client) RawMempool(ctx context.Context) ([]string, error) {
	var ids []string
	err := c.Call(ctx, "getrawmempool", &ids)
	return ids, err
}

// RawTransaction calls getrawtransaction TXID and returns the wire bytes.
// The verbosity argument is left out: bitcoind wants a boolean (before 25)
// and btcd an integer, and both default to raw hex.
func (c *Client) RawTransaction(ctx context.Context, txid string) ([]byte, error) {
	var s string
	if err := c.Call(ctx, "getrawtransaction", &s, txid); err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("getrawtransaction %s: %w", txid, err)
	}
	return b, nil
}
