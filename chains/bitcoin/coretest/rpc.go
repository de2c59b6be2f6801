package coretest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Client is a small JSON-RPC 1.0 client for a Core-family node's HTTP RPC
// server, for tests. It authenticates with User/Pass when User is set, else
// with the cookie file at CookiePath, read again for every call (the cookie
// changes whenever the node restarts). Without an HTTP client of its own it
// opens a connection per call and closes it: Core 0.21's HTTP server waits
// for open keep-alive connections at shutdown (up to -rpcservertimeout), so
// a harness that kept one would delay every Stop.
type Client struct {
	URL        string // http://127.0.0.1:port/ or http://127.0.0.1:port/wallet/<name>
	User, Pass string
	CookiePath string
	HTTP       *http.Client // nil: one connection per call, closed after it
}

// RPCError is an error the node answered with (JSON-RPC error object).
type RPCError struct {
	Method  string
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("%s: RPC error %d: %s", e.Method, e.Code, e.Message)
}

// Core RPC error codes the tests meet.
const (
	ErrCodeMisc            = -1  // e.g. "Block not available (pruned data)", CreateNewBlock failures
	ErrCodeInvalidAddress  = -5  // also "No such mempool or blockchain transaction"
	ErrCodeInvalidParam    = -8  // e.g. "Block height out of range"
	ErrCodeWarmup          = -28 // the node is still starting
	ErrCodeWalletNotFound  = -18
	ErrCodeWalletNotChosen = -19
)

// IsRPCError reports whether err is an RPCError with the given code.
func IsRPCError(err error, code int) bool {
	var re *RPCError
	return errors.As(err, &re) && re.Code == code
}

var oneShotHTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// Wallet returns a client for the wallet endpoint /wallet/<name> of the
// same node, with the same credentials.
func (c *Client) Wallet(name string) *Client {
	w := *c
	u := strings.TrimSuffix(c.URL, "/")
	if i := strings.Index(u, "/wallet/"); i >= 0 {
		u = u[:i]
	}
	w.URL = u + "/wallet/" + url.PathEscape(name)
	return &w
}

func (c *Client) credentials() (string, string, error) {
	if c.User != "" {
		return c.User, c.Pass, nil
	}
	if c.CookiePath == "" {
		return "", "", errors.New("coretest.Client: neither User nor CookiePath set")
	}
	b, err := os.ReadFile(c.CookiePath)
	if err != nil {
		return "", "", fmt.Errorf("read RPC cookie: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		return "", "", fmt.Errorf("RPC cookie %s is not user:password", c.CookiePath)
	}
	return user, pass, nil
}

// Call invokes method with params and decodes the result into result (a
// pointer, or nil to discard it). Numbers in results decode exactly into
// json.Number fields.
func (c *Client) Call(ctx context.Context, method string, result any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": 1, "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("%s: encode params: %w", method, err)
	}
	user, pass, err := c.credentials()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = oneShotHTTP
		req.Close = true
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: read reply: %w", method, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%s: HTTP 401: wrong rpc user/password or stale cookie", method)
	}
	var reply struct {
		Result json.RawMessage `json:"result"`
		Error  *RPCError       `json:"error"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return fmt.Errorf("%s: HTTP %d, undecodable reply %.200q: %w", method, resp.StatusCode, raw, err)
	}
	if reply.Error != nil {
		reply.Error.Method = method
		return reply.Error
	}
	if result == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(reply.Result))
	dec.UseNumber()
	if err := dec.Decode(result); err != nil {
		return fmt.Errorf("%s: decode result: %w", method, err)
	}
	return nil
}

// callTimeout bounds one call of the Node helpers (generating hundreds of
// blocks on regtest takes about a second).
const callTimeout = 2 * time.Minute
