package bitcoin

import (
	"bytes"
	"context"
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

	"github.com/ipnd/ipnd/config"
)

// RPCConfig says how to reach bitcoind or btcd.
type RPCConfig struct {
	Host       string // host:port
	User       string
	Password   config.Secret
	CookiePath string // bitcoind's .cookie ("user:password"), read instead of User/Password
	// Timeout bounds one call or one batch (default 10 s).
	Timeout time.Duration
	// Section is the configuration section named in timeout errors
	// (default "bitcoin").
	Section string
}

// DefaultRPCTimeout bounds one call when RPCConfig.Timeout is not set.
const DefaultRPCTimeout = 10 * time.Second

// maxAnswer bounds one HTTP answer of the node: a 4 MB block is 8 MB of
// hex; a batch whose answer is larger is split (see rawTransactions).
const maxAnswer = 64 << 20

// errAnswerTooLarge: the node's answer exceeded maxAnswer.
var errAnswerTooLarge = errors.New("node answer larger than 64 MiB")

// Client is a JSON-RPC client for bitcoind (0.21+) and btcd using HTTP POST,
// with per-call contexts and timeouts and batched requests. No password
// appears in its errors.
//
// Connections: btcd closes the connection after every answer; bitcoind
// keeps it open, and at shutdown waits (up to -rpcservertimeout, 30 s) for
// every open connection. The client therefore never keeps an idle
// connection past a failed call (the node may be stopping), and the
// watcher closes idle connections after each round (CloseIdle).
type Client struct {
	cfg       RPCConfig
	url       string
	transport *http.Transport
	http      *http.Client
	id        atomic.Uint64

	mu         sync.Mutex
	cookieMod  time.Time
	cookieUser string
	cookiePass string
}

// NewClient makes a client; it does not connect.
func NewClient(cfg RPCConfig) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultRPCTimeout
	}
	if cfg.Section == "" {
		cfg.Section = BitcoinFamily.Section
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second} // the call's context bounds it
	return &Client{cfg: cfg, url: "http://" + cfg.Host + "/", transport: tr, http: &http.Client{Transport: tr}}
}

// CloseIdle closes the connections the client keeps open between calls.
func (c *Client) CloseIdle() { c.transport.CloseIdleConnections() }

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

// rpcResponse decodes an answer in one pass: Result holds a pointer to the
// caller's value.
type rpcResponse struct {
	Result any       `json:"result"`
	Error  *RPCError `json:"error"`
	ID     uint64    `json:"id"`
}

// ignored is a result nobody reads.
type ignored struct{}

func (*ignored) UnmarshalJSON([]byte) error { return nil }

// Call runs one RPC; result (a pointer, or nil) receives the "result"
// member.
func (c *Client) Call(ctx context.Context, method string, result any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	if result == nil {
		result = &ignored{}
	}
	r := rpcResponse{Result: result}
	err := c.post(ctx, method, rpcRequest{JSONRPC: "1.0", ID: c.id.Add(1), Method: method, Params: params}, &r)
	if err == nil && r.Error != nil {
		err = fmt.Errorf("%s: %w", method, r.Error)
	}
	if err != nil {
		c.CloseIdle()
	}
	return err
}

// post sends body (a request or a batch) and decodes the answer into out.
func (c *Client) post(ctx context.Context, what string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	user, pass, err := c.credentials()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("%s: no answer within %s (%s.rpc_timeout): %w", what, c.cfg.Timeout, c.cfg.Section, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		c.mu.Lock()
		c.cookieMod = time.Time{} // re-read the cookie next time
		c.mu.Unlock()
		return fmt.Errorf("%s: %w (HTTP %d)", what, ErrAuth, resp.StatusCode)
	}
	lr := &io.LimitedReader{R: resp.Body, N: maxAnswer + 1}
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("%s: %w", what, errAnswerTooLarge)
		}
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("%s: no whole answer within %s (%s.rpc_timeout): %w", what, c.cfg.Timeout, c.cfg.Section, err)
		}
		return fmt.Errorf("%s: HTTP %d, undecodable answer: %w", what, resp.StatusCode, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(lr, 1<<16)) // the trailing newline: keeps the connection reusable
	// bitcoind answers errors with HTTP 404/500 and a JSON body: the RPC
	// error (checked by the caller) says more than the status.
	if r, ok := out.(*rpcResponse); ok && r.Error != nil {
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", what, resp.StatusCode)
	}
	return nil
}
