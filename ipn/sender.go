package ipn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/ipnd/ipnd/ledger"
)

// MaxResponseBytes caps how much of a receiver's answer is read.
const MaxResponseBytes = 64 << 10

// DefaultTimeout bounds one delivery attempt (connect to last byte,
// including the HTTP client's quick retries) when none is configured.
const DefaultTimeout = 10 * time.Second

// ErrForbiddenTarget is wrapped when a URL or the address actually dialled
// is not allowed (scheme, or a loopback/private/... address).
var ErrForbiddenTarget = errors.New("forbidden IPN target")

// blocked lists address ranges a receiver may not be on unless private
// targets are allowed. netip.Addr methods cover loopback, private (RFC 1918
// and fc00::/7), link-local, multicast and unspecified addresses.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated; [::7f00:1] is 127.0.0.1), with :: and ::1
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (SIIT)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64 (RFC 8215): a private translator
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// embeddedV4 lists IPv6 prefixes that carry an IPv4 address whose range
// must be checked too: well-known NAT64 (64:ff9b::/96, IPv4 in the low 32
// bits: [64:ff9b::a00:1] reaches 10.0.0.1 through the translator) and
// 6to4 (2002::/16, IPv4 in bits 16..47).
var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixToF4 = netip.MustParsePrefix("2002::/16")
)

// AddrAllowed reports whether a receiver may be reached at ip when private
// targets are not allowed.
func AddrAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		if nat64.Contains(ip) {
			return AddrAllowed(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		}
		if sixToF4.Contains(ip) {
			return AddrAllowed(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	return true
}

// Resolver looks up a host's addresses (net.DefaultResolver is one).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL validates a subscriber URL at subscribe time: http or https, a
// host, no fragment, and unless allowPrivate every address the host resolves
// to must pass AddrAllowed. The dialer checks the connected address again at
// delivery time (DNS rebinding).
func CheckURL(ctx context.Context, rawURL string, allowPrivate bool) error {
	return checkURL(ctx, net.DefaultResolver, rawURL, allowPrivate)
}

func checkURL(ctx context.Context, r Resolver, rawURL string, allowPrivate bool) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: not a URL", ErrForbiddenTarget)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme must be http or https", ErrForbiddenTarget)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: URL has no host", ErrForbiddenTarget)
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil || p == "0" {
			return fmt.Errorf("%w: bad port %q", ErrForbiddenTarget, p)
		}
	}
	if allowPrivate {
		return nil
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		if !AddrAllowed(ip) {
			return fmt.Errorf("%w: %s is a loopback, private or reserved address", ErrForbiddenTarget, ip)
		}
		return nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%w: cannot resolve %s: %w", ErrForbiddenTarget, host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: %s has no address", ErrForbiddenTarget, host)
	}
	for _, ip := range addrs {
		if !AddrAllowed(ip) {
			return fmt.Errorf("%w: %s resolves to %s, a loopback, private or reserved address", ErrForbiddenTarget, host, ip)
		}
	}
	return nil
}

// dialControl refuses connections to forbidden addresses; it sees the
// address actually dialled, after DNS resolution.
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q", ErrForbiddenTarget, address)
	}
	if !AddrAllowed(ap.Addr()) {
		return fmt.Errorf("%w: %s is a loopback, private or reserved address", ErrForbiddenTarget, ap.Addr())
	}
	return nil
}

// SenderOptions configures a Sender.
type SenderOptions struct {
	Version      string        // for User-Agent: ipnd/VERSION
	Timeout      time.Duration // one attempt including quick retries; 0 = DefaultTimeout
	AllowPrivate bool          // [ipn] allow_private_targets
	// MaxIdlePerHost keeps this many idle keep-alive connections per
	// receiver host (0 = 4).
	MaxIdlePerHost int
	// QuickRetries is the HTTP client's own retries within one attempt
	// (connection errors, 429, 5xx), default 1; negative means none.
	QuickRetries int
}

// Sender makes delivery attempts. It is safe for concurrent use.
type Sender struct {
	version string
	timeout time.Duration
	client  *retryablehttp.Client
	hc      *http.Client
	now     func() time.Time
}

// Outcome is the result of one delivery attempt.
type Outcome struct {
	Delivered bool
	Status    int    // HTTP status of the last answer, 0 if none
	Error     string // why it was not delivered; empty when delivered
	Duration  time.Duration
}

// NewSender builds a Sender with its own HTTP transport: no proxy, no
// redirects followed, and unless AllowPrivate a dialer that refuses
// loopback/private/reserved addresses.
func NewSender(o SenderOptions) *Sender {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxIdlePerHost <= 0 {
		o.MaxIdlePerHost = 4
	}
	if o.QuickRetries == 0 {
		o.QuickRetries = 1
	}
	if o.QuickRetries < 0 {
		o.QuickRetries = 0
	}
	hc := newHTTPClient(o.Timeout, o.MaxIdlePerHost, o.AllowPrivate)
	rc := &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       nil, // URLs may carry receiver tokens; the worker logs
		RetryWaitMin: 50 * time.Millisecond,
		RetryWaitMax: 500 * time.Millisecond,
		RetryMax:     o.QuickRetries,
		CheckRetry:   checkRetry,
		Backoff:      quickBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return &Sender{version: o.Version, timeout: o.Timeout, client: rc, hc: hc, now: time.Now}
}

// NewHTTPClient is an HTTP client that posts as the Sender does: no proxy
// (it would hide the address really reached), no redirects followed, no
// cookies, connect, TLS handshake and answer headers each within timeout,
// and unless allowPrivate a dialer that refuses loopback, private and
// reserved addresses (AddrAllowed) after DNS resolution. The receiver test
// kit uses it.
func NewHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return newHTTPClient(timeout, 1, allowPrivate)
}

func newHTTPClient(timeout time.Duration, maxIdlePerHost int, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = dialControl
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// checkRetry retries like retryablehttp's default policy, except for a
// forbidden target, which no retry can fix.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err != nil && errors.Is(err, ErrForbiddenTarget) {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// quickBackoff is a jittered exponential wait between min and max; it
// ignores Retry-After, which could exceed the attempt's timeout.
func quickBackoff(min, max time.Duration, n int, _ *http.Response) time.Duration {
	d := min << n
	if d > max || d <= 0 {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// Close drops the Sender's idle connections.
func (s *Sender) Close() { s.hc.CloseIdleConnections() }

// Send makes one delivery attempt of n (attempt is 1 for the first): it
// posts n.Body to n.URL with signed headers, reads at most MaxResponseBytes
// of the answer and checks the echo. The whole attempt, the client's quick
// retries included, is bounded by the Sender's timeout.
func (s *Sender) Send(ctx context.Context, n ledger.Notification, attempt int) Outcome {
	start := s.now()
	out := s.send(ctx, n, attempt)
	out.Duration = s.now().Sub(start)
	return out
}

func (s *Sender) send(ctx context.Context, n ledger.Notification, attempt int) Outcome {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, n.URL, n.Body)
	if err != nil {
		return Outcome{Error: "bad request: " + scrub(err, n.URL)}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return Outcome{Error: "forbidden target: scheme must be http or https"}
	}
	req.Header = Headers(s.version, n, attempt, s.now())
	resp, err := s.client.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return Outcome{Error: describe(ctx, err, n.URL)}
	}
	defer resp.Body.Close()
	out := Outcome{Status: resp.StatusCode}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		out.Error = fmt.Sprintf("redirect (HTTP %d) not followed", resp.StatusCode)
		return out
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		out.Error = fmt.Sprintf("HTTP status %d", resp.StatusCode)
		return out
	}
	if resp.ContentLength > MaxResponseBytes {
		out.Error = "response too large"
		return out
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		out.Error = "reading response: " + describe(ctx, err, n.URL)
		return out
	}
	if len(b) > MaxResponseBytes {
		out.Error = "response too large"
		return out
	}
	if err := CheckEcho(n, resp.StatusCode, b); err != nil {
		out.Error = err.Error()
		return out
	}
	out.Delivered = true
	return out
}

// describe turns a transport error into a short reason without the URL
// (which may carry a receiver's token).
func describe(ctx context.Context, err error, rawURL string) string {
	switch {
	case errors.Is(err, ErrForbiddenTarget):
		return "forbidden target: loopback, private or reserved address"
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return scrub(err, rawURL)
}

func scrub(err error, rawURL string) string {
	s := err.Error()
	if rawURL != "" {
		s = strings.ReplaceAll(s, rawURL, "<url>")
	}
	return s
}
