// Package monero watches incoming Monero payments through a view-only
// monero-wallet-rpc and monitors monerod's sync state.
//
// The wallet-rpc client (WalletClient) and the monerod client (DaemonClient)
// speak JSON-RPC 2.0 over HTTP with digest authentication; Allocator hands out
// subaddresses of one account, recording each in the ledger before returning
// it; Watcher polls the wallet's incoming transfers within a reorg window and
// reconciles them into the ledger.
package monero

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Errors callers can test with errors.Is.
var (
	// ErrUnreachable: the RPC server could not be reached (connection
	// refused, timeout, broken connection).
	ErrUnreachable = errors.New("monero rpc unreachable")
	// ErrUnauthorized: the server refused the credentials (or wants some and
	// none are configured).
	ErrUnauthorized = errors.New("monero rpc refused the credentials")
)

// RPCError is an error object returned by a JSON-RPC call.
type RPCError struct {
	Method  string
	Code    int
	Message string
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("monero rpc %s: error %d: %s", e.Method, e.Code, e.Message)
}

// HTTPError is a non-200 HTTP answer other than an authentication failure.
type HTTPError struct {
	Method string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("monero rpc %s: HTTP %d: %s", e.Method, e.Status, e.Body)
}

// ClientOptions configure an RPC client.
type ClientOptions struct {
	// User and Password turn on HTTP digest authentication (wallet-rpc's
	// --rpc-login). The password never appears in errors or logs.
	User, Password string
	// Timeout bounds one call (default 30 s); a context deadline applies too.
	Timeout time.Duration
	// HTTPClient overrides the transport (tests); its Timeout is ignored.
	HTTPClient *http.Client
}

// rpc is the transport shared by the wallet and daemon clients: one call at
// a time (wallet-rpc serves one request at a time anyway, and the digest
// nonce is tied to the keep-alive connection), per-call timeout, digest auth.
type rpc struct {
	base    *url.URL
	name    string // "wallet-rpc" or "monerod", for errors
	timeout time.Duration
	hc      *http.Client

	mu     sync.Mutex
	digest *digestAuth
}

func newRPC(name, baseURL string, o ClientOptions) (*rpc, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s url %q: want http(s)://host:port", name, baseURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s url: put credentials in the user/password settings, not in the URL", name)
	}
	r := &rpc{base: u, name: name, timeout: o.Timeout, hc: o.HTTPClient}
	if r.timeout <= 0 {
		r.timeout = 30 * time.Second
	}
	if r.hc == nil {
		// One keep-alive connection: a digest challenge must be answered on
		// the connection it was issued on.
		r.hc = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			IdleConnTimeout:     60 * time.Second,
		}}
	}
	if o.User != "" || o.Password != "" {
		r.digest = &digestAuth{user: o.User, pass: o.Password}
	}
	return r, nil
}

// jsonRPC calls method on /json_rpc and decodes the result into out (which
// may be nil). Keys absent from the result leave out's fields at their zero
// values; a null or absent result leaves out untouched.
func (r *rpc) jsonRPC(ctx context.Context, method string, params, out any) error {
	return r.jsonRPCTimeout(ctx, r.timeout, method, params, out)
}

// jsonRPCTimeout is jsonRPC with a call-specific timeout (refresh may scan
// many blocks).
func (r *rpc) jsonRPCTimeout(ctx context.Context, timeout time.Duration, method string, params, out any) error {
	if params == nil {
		params = struct{}{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "0", "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("monero rpc %s: encode: %w", method, err)
	}
	raw, err := r.post(ctx, timeout, method, "/json_rpc", body)
	if err != nil {
		return err
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("monero rpc %s: decode answer: %w", method, err)
	}
	if env.Error != nil {
		return &RPCError{Method: method, Code: env.Error.Code, Message: env.Error.Message}
	}
	if out == nil || len(env.Result) == 0 || string(env.Result) == "null" {
		return nil
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return fmt.Errorf("monero rpc %s: decode result: %w", method, err)
	}
	return nil
}

// plain POSTs to a non-JSON-RPC endpoint of monerod (/send_raw_transaction,
// /pop_blocks) and decodes the answer.
func (r *rpc) plain(ctx context.Context, path string, params, out any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("monero rpc %s: encode: %w", path, err)
	}
	raw, err := r.post(ctx, r.timeout, path, path, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("monero rpc %s: decode answer: %w", path, err)
	}
	return nil
}

func (r *rpc) post(ctx context.Context, timeout time.Duration, method, path string, body []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := *r.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	uri := u.RequestURI()
	// Attempts: with the current challenge (if any); after a 401 with a
	// fresh challenge; once more after a stale nonce.
	retried := false
	for attempt := 0; attempt < 3; attempt++ {
		reused := false
		tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		})
		req, err := http.NewRequestWithContext(tctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("monero rpc %s: %w", method, err)
		}
		req.Header.Set("Content-Type", "application/json")
		answered := false
		if r.digest != nil && r.digest.have {
			req.Header.Set("Authorization", r.digest.authorization(http.MethodPost, uri))
			answered = true
		}
		resp, err := r.hc.Do(req)
		if err != nil {
			if reused && !retried && ctx.Err() == nil {
				// The server closed the idle keep-alive connection as we
				// sent on it: try once on a new connection.
				retried = true
				attempt--
				continue
			}
			return nil, r.transportErr(ctx, method, err)
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		resp.Body.Close()
		if err != nil {
			return nil, r.transportErr(ctx, method, err)
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return raw, nil
		case resp.StatusCode == http.StatusUnauthorized:
			if r.digest == nil {
				return nil, fmt.Errorf("%w: %s %s wants a login (HTTP 401) and no user/password is configured",
					ErrUnauthorized, r.name, method)
			}
			ch, ok := parseDigestChallenges(resp.Header)
			if !ok {
				return nil, fmt.Errorf("%w: %s %s: HTTP 401 without a digest challenge this client can answer",
					ErrUnauthorized, r.name, method)
			}
			if answered && !ch.stale && attempt > 0 {
				r.digest.have = false
				return nil, fmt.Errorf("%w: %s %s: user %q was refused (HTTP 401): wrong user or password",
					ErrUnauthorized, r.name, method, r.digest.user)
			}
			r.digest.ch, r.digest.nc, r.digest.have = ch, 0, true
			continue
		default:
			return nil, &HTTPError{Method: method, Status: resp.StatusCode, Body: truncate(string(raw), 200)}
		}
	}
	if r.digest != nil {
		r.digest.have = false
	}
	return nil, fmt.Errorf("%w: %s %s: user %q was refused (HTTP 401) after answering the challenge",
		ErrUnauthorized, r.name, method, r.digest.user)
}

func (r *rpc) transportErr(ctx context.Context, method string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL carries no secret, but keep the message short
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("monero rpc %s: %w", method, ctx.Err())
	}
	return fmt.Errorf("%w: %s at %s, %s: %w", ErrUnreachable, r.name, r.base.Host, method, err)
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
