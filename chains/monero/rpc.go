// Package monero watches incoming Monero payments through a view-only
// monero-wallet-rpc and monitors monerod's sync state.
//
// The wallet-rpc client (WalletClient) and the monerod client (DaemonClient)
// speak JSON-RPC 2.0 over HTTP with digest authentication (both servers'
// --rpc-login); their errors name the setting to fix. Starter runs the start
// checks as soon as wallet-rpc answers and then holds the Allocator, which
// hands out subaddresses of one account, recording each in the ledger
// before returning it. Watcher polls the wallet's incoming transfers within
// a reorg window and reconciles them into the ledger, checking every value
// first (payments.go); with Push, monerod's ZMQ publisher makes it poll at
// once, and between events it only asks monerod whether anything changed.
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
	// ErrWrongPath: the server answered HTTP 404 at the path the client
	// uses: the configured URL is not the RPC server's base URL.
	ErrWrongPath = errors.New("monero rpc: no RPC server at this URL's path")
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
// A 404 matches ErrWrongPath and names the setting to fix.
type HTTPError struct {
	Method string
	Status int
	Body   string
	// Setting is the configuration key of the URL ("monero.wallet_rpc_url");
	// Server, URL (the whole URL requested) and Path (what the client
	// appended to the base URL) say who answered what. The URL carries no
	// credentials: the client refuses those.
	Setting, Server, URL, Path string
}

func (e *HTTPError) Error() string {
	if e.Status == http.StatusNotFound {
		return fmt.Sprintf("%s: HTTP 404 Not Found at %s (%s %s): no %s RPC at that path; set %s "+
			"to the base URL of %s, such as http://127.0.0.1:%s (ipnd appends %s; the same URL ending in /json_rpc works too)",
			e.Setting, e.URL, e.Server, e.Method, e.Server, e.Setting, e.Server, defaultPort(e.Server), e.Path)
	}
	return fmt.Sprintf("monero rpc %s: HTTP %d: %s", e.Method, e.Status, e.Body)
}

// Unwrap makes a 404 match ErrWrongPath.
func (e *HTTPError) Unwrap() error {
	if e.Status == http.StatusNotFound {
		return ErrWrongPath
	}
	return nil
}

// defaultPort is the usual mainnet RPC port of a server, for messages.
func defaultPort(server string) string {
	if server == "monerod" {
		return "18081"
	}
	return "18083"
}

// ClientOptions configure an RPC client.
type ClientOptions struct {
	// User and Password turn on HTTP digest authentication (wallet-rpc's
	// and monerod's --rpc-login). The password never appears in errors or
	// logs.
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
	setting string // the settings' common prefix: "monero.wallet_rpc" or "monero.daemon_rpc"
	timeout time.Duration
	hc      *http.Client

	mu     sync.Mutex
	digest *digestAuth
}

func newRPC(name, setting, baseURL string, o ClientOptions) (*rpc, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s_url: %s URL %q: want http(s)://host:port", setting, name, redact(baseURL))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s_url: put credentials in %s_user and %s_password, not in the URL", setting, setting, setting)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s_url: %s URL %q: want no query or fragment", setting, name, u.Redacted())
	}
	r := &rpc{base: u, name: name, setting: setting, timeout: o.Timeout, hc: o.HTTPClient}
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
				return nil, fmt.Errorf("%w: %s at %s wants a login (HTTP 401 for %s) and none is configured: set %s_user and "+
					"%s_password to the USER:PASSWORD of its --rpc-login", ErrUnauthorized, r.name, r.base.Host, method, r.setting, r.setting)
			}
			ch, ok := parseDigestChallenges(resp.Header)
			if !ok {
				return nil, fmt.Errorf("%w: %s %s: HTTP 401 without a digest challenge this client can answer",
					ErrUnauthorized, r.name, method)
			}
			if answered && !ch.stale && attempt > 0 {
				r.digest.have = false
				return nil, r.refused(method)
			}
			r.digest.ch, r.digest.nc, r.digest.have = ch, 0, true
			continue
		default:
			return nil, &HTTPError{Method: method, Status: resp.StatusCode, Body: truncate(string(raw), 200),
				Setting: r.setting + "_url", Server: r.name, URL: u.Redacted(), Path: path}
		}
	}
	if r.digest != nil {
		r.digest.have = false
	}
	return nil, r.refused(method)
}

// refused is the error for credentials the server did not accept.
func (r *rpc) refused(method string) error {
	return fmt.Errorf("%w: %s at %s refused user %q (HTTP 401 for %s): wrong %s_user or %s_password",
		ErrUnauthorized, r.name, r.base.Host, r.digest.user, method, r.setting, r.setting)
}

// redact hides what could be credentials in a URL that did not parse.
func redact(s string) string {
	if strings.Contains(s, "@") {
		return "(hidden: it contains credentials)"
	}
	return s
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
