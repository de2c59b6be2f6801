package ipn

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// receiver is a real HTTP server on loopback that records what it got.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	requests atomic.Int64
}

type received struct {
	Ctx    context.Context // the request's: done when the client gives up
	Header http.Header
	Body   []byte
	Fields map[string]string // address, confirmed, unconfirmed, id ...
}

// parseIPN reads a JSON or form IPN body into its string fields.
func parseIPN(t testing.TB, ct string, b []byte) map[string]string {
	out := map[string]string{}
	if strings.HasPrefix(ct, ContentTypeForm) {
		v, err := url.ParseQuery(string(b))
		if err != nil {
			t.Errorf("receiver: bad form body: %v", err)
		}
		for k := range v {
			out[k] = v.Get(k)
		}
		return out
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Errorf("receiver: bad JSON body: %v", err)
	}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		}
	}
	return out
}

// newReceiver starts a receiver whose answer is made by h (nil: echo).
func newReceiver(t testing.TB, h func(w http.ResponseWriter, r received, n int64)) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // the sender gave up mid-request (its timeout): nothing was delivered
		}
		got := received{Ctx: r.Context(), Header: r.Header.Clone(), Body: b, Fields: parseIPN(t, r.Header.Get("Content-Type"), b)}
		n := rc.requests.Add(1)
		rc.mu.Lock()
		rc.got = append(rc.got, got)
		rc.mu.Unlock()
		if h == nil {
			echo(w, got)
			return
		}
		h(w, got, n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func echo(w http.ResponseWriter, r received) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"address": r.Fields["address"], "confirmed": r.Fields["confirmed"], "unconfirmed": r.Fields["unconfirmed"],
		"note": "extra fields are ignored",
	})
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func note(t testing.TB, rawURL, format string) ledger.Notification {
	d := sampleData(chains.BTC, format)
	d.Subscription.URL = rawURL
	b, ct, err := Payload(d)
	if err != nil {
		t.Fatal(err)
	}
	return ledger.Notification{
		ID: d.ID, SubscriptionID: d.Subscription.ID, Chain: chains.BTC, Address: d.Subscription.Address,
		URL: rawURL, Secret: d.Subscription.Secret, Confirmed: d.Totals.Confirmed,
		Unconfirmed: d.Totals.Unconfirmed, Height: d.Totals.Height, Body: b, ContentType: ct,
		CreatedAt: d.CreatedAt,
	}
}

func loopbackSender(timeout time.Duration) *Sender {
	return NewSender(SenderOptions{Version: "test", Timeout: timeout, AllowPrivate: true, QuickRetries: -1})
}

func TestSendCorrectEcho(t *testing.T) {
	for _, format := range []string{"json", "form"} {
		rc := newReceiver(t, nil)
		s := loopbackSender(5 * time.Second)
		n := note(t, rc.URL+"/ipn?token=x", format)
		out := s.Send(context.Background(), n, 2)
		if !out.Delivered || out.Status != 200 || out.Error != "" {
			t.Fatalf("%s: outcome %+v", format, out)
		}
		got := rc.received()
		if len(got) != 1 {
			t.Fatalf("%s: %d requests", format, len(got))
		}
		r := got[0]
		if string(r.Body) != string(n.Body) {
			t.Errorf("%s: body changed in transit", format)
		}
		if r.Header.Get("User-Agent") != "ipnd/test" || r.Header.Get(HeaderID) != "42" || r.Header.Get(HeaderAttempt) != "2" {
			t.Errorf("%s: headers %v", format, r.Header)
		}
		if r.Fields["confirmed"] != "0.01000000" || r.Fields["address"] != n.Address {
			t.Errorf("%s: fields %v", format, r.Fields)
		}
		if err := Verify(n.Secret, r.Header.Get(HeaderSignature), r.Body, time.Now(), 0); err != nil {
			t.Errorf("%s: signature with subscription secret: %v", format, err)
		}
		if err := Verify("ipnsec_other", r.Header.Get(HeaderSignature), r.Body, time.Now(), 0); !errors.Is(err, ErrSignatureMismatch) {
			t.Errorf("%s: signature verified with another secret: %v", format, err)
		}
	}
}

func TestSendFailures(t *testing.T) {
	cases := []struct {
		name    string
		h       func(w http.ResponseWriter, r received, n int64)
		status  int
		errPart string
	}{
		{"wrong echo", func(w http.ResponseWriter, r received, _ int64) {
			io.WriteString(w, `{"address":"`+r.Fields["address"]+`","confirmed":"0.02","unconfirmed":"0"}`)
		}, 200, "echoed confirmed"},
		{"float-as-string receiver of the original", func(w http.ResponseWriter, r received, _ int64) {
			io.WriteString(w, `{"address":"`+r.Fields["address"]+`","confirmed":"0.01","unconfirmed":"0.0"}`)
		}, 200, "echoed unconfirmed"},
		{"500", func(w http.ResponseWriter, r received, _ int64) {
			w.WriteHeader(500)
			echo(w, r)
		}, 500, "HTTP status 500"},
		{"404", func(w http.ResponseWriter, r received, _ int64) { http.NotFound(w, nil) }, 404, "HTTP status 404"},
		{"non-JSON", func(w http.ResponseWriter, r received, _ int64) { io.WriteString(w, "OK") }, 200, "not a JSON object"},
		{"redirect", func(w http.ResponseWriter, r received, _ int64) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusFound)
		}, 302, "redirect"},
		{"huge body", func(w http.ResponseWriter, r received, _ int64) {
			w.Header().Set("Content-Type", "application/json")
			chunk := strings.Repeat(" ", 32<<10)
			for i := 0; i < 10000; i++ { // 320 MB if read in full
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}, 200, "response too large"},
		{"huge declared body", func(w http.ResponseWriter, r received, _ int64) {
			w.Header().Set("Content-Length", "100000000")
			io.WriteString(w, "{")
		}, 200, "response too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t, c.h)
			s := loopbackSender(5 * time.Second)
			out := s.Send(context.Background(), note(t, rc.URL+"/ipn", "json"), 1)
			if out.Delivered || out.Status != c.status || !strings.Contains(out.Error, c.errPart) {
				t.Fatalf("outcome %+v, want status %d and error containing %q", out, c.status, c.errPart)
			}
			if c.name == "redirect" && rc.requests.Load() != 1 {
				t.Fatalf("redirect followed: %d requests", rc.requests.Load())
			}
		})
	}
}

func TestSendTimeout(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r received, _ int64) {
		select {
		case <-release:
		case <-r.Ctx.Done():
		}
		echo(w, r)
	})
	defer close(release)
	// Quick retries on: they must share the attempt's timeout, not add to it.
	s := NewSender(SenderOptions{Timeout: 300 * time.Millisecond, AllowPrivate: true, QuickRetries: 2})
	out := s.Send(context.Background(), note(t, rc.URL, "json"), 1)
	if out.Delivered || out.Error != "timeout" {
		t.Fatalf("outcome %+v", out)
	}
	if out.Duration >= 5*time.Second {
		t.Fatalf("attempt took %v: quick retries multiplied the timeout", out.Duration)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := loopbackSender(2 * time.Second)
	out := s.Send(context.Background(), note(t, "http://"+addr+"/ipn", "json"), 1)
	if out.Delivered || out.Status != 0 || out.Error != "connection refused" {
		t.Fatalf("outcome %+v", out)
	}
}

func TestSendQuickRetry(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r received, n int64) {
		if n == 1 {
			w.WriteHeader(503)
			return
		}
		echo(w, r)
	})
	s := NewSender(SenderOptions{Timeout: 5 * time.Second, AllowPrivate: true, QuickRetries: 1})
	out := s.Send(context.Background(), note(t, rc.URL, "json"), 1)
	if !out.Delivered || rc.requests.Load() != 2 {
		t.Fatalf("outcome %+v after %d requests", out, rc.requests.Load())
	}
	got := rc.received()
	if got[0].Header.Get(HeaderID) != got[1].Header.Get(HeaderID) {
		t.Fatal("IPN-Id changed between retries")
	}
}

func TestSendSSRFAtDial(t *testing.T) {
	rc := newReceiver(t, nil)
	s := NewSender(SenderOptions{Timeout: 2 * time.Second, AllowPrivate: false, QuickRetries: 2})
	port := rc.Listener.Addr().(*net.TCPAddr).Port
	// "localhost" is a name: only the dialer sees that it is loopback.
	for _, u := range []string{rc.URL, "http://localhost:" + strconv.Itoa(port) + "/x"} {
		out := s.Send(context.Background(), note(t, u, "json"), 1)
		if out.Delivered || !strings.Contains(out.Error, "forbidden target") {
			t.Fatalf("%s: outcome %+v", u, out)
		}
	}
	if n := rc.requests.Load(); n != 0 {
		t.Fatalf("receiver on loopback got %d requests", n)
	}
	bad := loopbackSender(time.Second)
	if out := bad.Send(context.Background(), note(t, "ftp://example.com/x", "json"), 1); out.Delivered || !strings.Contains(out.Error, "scheme") {
		t.Fatalf("ftp: %+v", out)
	}
}

// fakeResolver answers with fixed addresses (unit test of CheckURL only).
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	a, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return a, nil
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	r := fakeResolver{
		"public.example":  {netip.MustParseAddr("93.184.216.34")},
		"mixed.example":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.1.2.3")},
		"private.example": {netip.MustParseAddr("192.168.1.10")},
		"v6.example":      {netip.MustParseAddr("2606:2800:220:1:248:1893:25c8:1946")},
	}
	allowed := []string{
		"http://public.example/ipn", "https://public.example:8443/x?y=1", "http://93.184.216.34/",
		"https://v6.example/", "http://[2606:2800:220:1:248:1893:25c8:1946]:80/",
		"http://[64:ff9b::5db8:d822]/", // well-known NAT64 of a public IPv4 (93.184.216.34)
		"http://[2001:4860:4860::8888]/",
	}
	for _, u := range allowed {
		if err := checkURL(ctx, r, u, false); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	refused := []string{
		"ftp://public.example/", "file:///etc/passwd", "gopher://public.example", "public.example/x", "http:///x",
		"http://mixed.example/", "http://private.example/", "http://nosuch.example/",
		"http://127.0.0.1/", "http://127.1.2.3:8080/", "http://[::1]/", "http://0.0.0.0/", "http://[::]/",
		"http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.0.1/", "http://169.254.169.254/latest/meta-data",
		"http://100.64.0.1/", "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://[fe80::1]/",
		"http://224.0.0.1/", "http://[ff02::1]/", "http://255.255.255.255/", "http://[::ffff:127.0.0.1]/",
		"http://[::ffff:10.0.0.1]/", "http://[64:ff9b::a00:1]/", "http://[2002:7f00:1::]/", "http://198.18.0.1/",
		"http://public.example:0/", "http://public.example:99999/",
		// Issue 13: IPv4-compatible, local-use NAT64 and Teredo were accepted.
		"http://[::7f00:1]/", "http://[::a00:1]/", "http://[::ffff:0:7f00:1]/", "http://[64:ff9b:1::a00:1]/",
		"http://[64:ff9b:1:ffff::1]/", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "http://[2001::1]/",
		// Well-known NAT64 of private, loopback and link-local IPv4.
		"http://[64:ff9b::7f00:1]/", "http://[64:ff9b::c0a8:101]/", "http://[64:ff9b::a9fe:a9fe]/",
	}
	for _, u := range refused {
		if err := checkURL(ctx, r, u, false); !errors.Is(err, ErrForbiddenTarget) {
			t.Errorf("%s accepted (err %v)", u, err)
		}
	}
	// allow_private_targets: addresses are not checked, schemes still are.
	if err := checkURL(ctx, r, "http://127.0.0.1:8080/", true); err != nil {
		t.Errorf("private allowed: %v", err)
	}
	if err := checkURL(ctx, r, "ftp://127.0.0.1/", true); err == nil {
		t.Error("ftp accepted with private targets allowed")
	}
	// The exported form uses the system resolver: localhost is refused.
	if err := CheckURL(ctx, "http://localhost:8080/", false); !errors.Is(err, ErrForbiddenTarget) {
		t.Errorf("localhost accepted: %v", err)
	}
}
