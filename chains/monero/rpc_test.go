package monero

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipnd/ipnd/config"
)

type connKey struct{}

// digestServer is a unit-test stand-in for wallet-rpc's digest
// authentication: one nonce per TCP connection, a nonce from another
// connection answered with 401 stale=true, and a JSON-RPC body echoed from
// handler.
type digestServer struct {
	user, pass string
	mu         sync.Mutex
	nonces     map[net.Conn]string
	counter    int
	challenges atomic.Int32
	handler    func(body string) string
}

func (s *digestServer) nonceFor(c net.Conn) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nonces[c]; ok {
		return n
	}
	s.counter++
	n := fmt.Sprintf("nonce%d", s.counter)
	s.nonces[c] = n
	return n
}

func (s *digestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn := r.Context().Value(connKey{}).(net.Conn)
	nonce := s.nonceFor(conn)
	challenge := func(stale bool) {
		s.challenges.Add(1)
		st := ""
		if stale {
			st = ",stale=true"
		}
		w.Header().Add("WWW-Authenticate", `Digest qop="auth",algorithm=MD5-sess,realm="monero-rpc",nonce="`+nonce+`"`+st)
		w.Header().Add("WWW-Authenticate", `Digest qop="auth",algorithm=MD5,realm="monero-rpc",nonce="`+nonce+`"`+st)
		w.WriteHeader(http.StatusUnauthorized)
	}
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Digest ") {
		challenge(false)
		return
	}
	p := parseAuthParams(strings.TrimPrefix(h, "Digest "))
	if p["nonce"] != nonce {
		challenge(true)
		return
	}
	ha1 := md5hex(p["username"] + ":" + p["realm"] + ":" + s.pass)
	ha2 := md5hex(r.Method + ":" + p["uri"])
	want := md5hex(ha1 + ":" + nonce + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + ha2)
	if p["username"] != s.user || p["response"] != want || p["uri"] != r.URL.RequestURI() || p["algorithm"] != "MD5" {
		challenge(false)
		return
	}
	body, _ := io.ReadAll(r.Body)
	_, _ = io.WriteString(w, s.handler(string(body)))
}

func newDigestServer(t *testing.T, user, pass string, handler func(string) string) (*digestServer, *httptest.Server) {
	s := &digestServer{user: user, pass: pass, nonces: map[net.Conn]string{}, handler: handler}
	srv := httptest.NewUnstartedServer(s)
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return s, srv
}

func TestDigestAuthAnswersOnSameConnectionAndStale(t *testing.T) {
	ctx := context.Background()
	s, srv := newDigestServer(t, "ipnd", "s3cret-pw", func(string) string {
		return `{"jsonrpc":"2.0","id":"0","result":{"version":65562}}`
	})
	w, err := NewWalletClient(srv.URL, ClientOptions{User: "ipnd", Password: "s3cret-pw"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		v, err := w.GetVersion(ctx)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if v.Version != 65562 {
			t.Fatalf("version %d", v.Version)
		}
	}
	if n := s.challenges.Load(); n != 1 {
		t.Fatalf("%d challenges for 3 calls on one connection, want 1 (nonce reused with nc++)", n)
	}
	// A new connection: the cached nonce is stale; the client re-answers.
	srv.CloseClientConnections()
	if _, err := w.GetVersion(ctx); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
	if n := s.challenges.Load(); n != 2 {
		t.Fatalf("%d challenges, want 2", n)
	}
}

func TestDigestWrongPasswordIsClearAndSecretFree(t *testing.T) {
	_, srv := newDigestServer(t, "ipnd", "right", func(string) string { return `{"result":{}}` })
	w, _ := NewWalletClient(srv.URL, ClientOptions{User: "ipnd", Password: "wrong-Pa55word"})
	_, err := w.GetVersion(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong-Pa55word") {
		t.Fatalf("error leaks the password: %v", err)
	}
	if !strings.Contains(err.Error(), `"ipnd"`) {
		t.Fatalf("error does not name the user: %v", err)
	}
	none, _ := NewWalletClient(srv.URL, ClientOptions{})
	if _, err := none.GetVersion(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("no credentials: err = %v, want ErrUnauthorized", err)
	}
}

func TestRPCErrorsAndAbsentKeys(t *testing.T) {
	answer := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	w, _ := NewWalletClient(srv.URL, ClientOptions{})
	ctx := context.Background()

	answer = `{"jsonrpc":"2.0","id":"0","error":{"code":-14,"message":"account index is out of bound"}}`
	_, _, err := w.CreateAddress(ctx, 3, "")
	var re *RPCError
	if !errors.As(err, &re) || re.Code != CodeAccountIndexOOB || re.Method != "create_address" {
		t.Fatalf("err = %#v", err)
	}
	if !IsRPCCode(err, CodeAccountIndexOOB) {
		t.Fatal("IsRPCCode false")
	}

	answer = `{"jsonrpc":"2.0","id":"0","result":{}}`
	tr, err := w.GetTransfers(ctx, TransfersQuery{In: true, Pool: true})
	if err != nil || tr.In != nil || tr.Pool != nil {
		t.Fatalf("empty answer: %+v %v", tr, err)
	}

	// Amounts above 2^53 decode exactly (no float).
	answer = `{"result":{"in":[{"txid":"aa","amount":18446744073709551615,"height":5,"subaddr_index":{"major":1,"minor":7}}]}}`
	tr, err = w.GetTransfers(ctx, TransfersQuery{In: true})
	if err != nil || len(tr.In) != 1 || tr.In[0].Amount != 18446744073709551615 || tr.In[0].SubaddrIndex.Minor != 7 {
		t.Fatalf("%+v %v", tr, err)
	}

	answer = `{"result":{"key":"0000000000000000000000000000000000000000000000000000000000000000"}}`
	if can, err := w.CanSpend(ctx); err != nil || can {
		t.Fatalf("all-zero spend key: can=%v err=%v", can, err)
	}
	answer = `{"error":{"code":-29,"message":"The wallet is watch-only. Cannot retrieve spend key."}}`
	if can, err := w.CanSpend(ctx); err != nil || can {
		t.Fatalf("watch-only error: can=%v err=%v", can, err)
	}
	answer = `{"error":{"code":-13,"message":"No wallet file"}}`
	if _, err := w.CanSpend(ctx); err == nil {
		t.Fatal("no wallet open must be an error, not 'view-only'")
	}
	answer = `{"result":{"key":"1f00000000000000000000000000000000000000000000000000000000000000"}}`
	if can, err := w.CanSpend(ctx); err != nil || !can {
		t.Fatalf("spend key: can=%v err=%v", can, err)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d, _ := NewDaemonClient("http://"+addr, ClientOptions{})
	if _, err := d.GetInfo(context.Background()); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if _, err := NewWalletClient("http://u:p@127.0.0.1:1", ClientOptions{}); err == nil || strings.Contains(err.Error(), "u:p") {
		t.Fatalf("credentials in URL: %v", err)
	}
}

func TestClientsFromConfig(t *testing.T) {
	c := config.Default().Monero
	c.WalletRPCUser, c.WalletRPCPassword = "u", config.Secret("pw")
	w, d, err := Clients(c)
	if err != nil || w.r.digest == nil || w.r.digest.pass != "pw" || d.r.digest != nil {
		t.Fatalf("%v", err)
	}
	c.DaemonRPCUser, c.DaemonRPCPassword = "d", config.Secret("dpw")
	if _, d, _ := Clients(c); d.r.digest == nil || d.r.digest.user != "d" || d.r.digest.pass != "dpw" {
		t.Fatal("daemon credentials not used")
	}
	c.DaemonRPCURL = "ftp://x"
	if _, _, err := Clients(c); err == nil {
		t.Fatal("bad daemon URL accepted")
	}
	wc := WatcherConfigFrom(config.Default().Monero, nil)
	if wc.PollInterval != time.Second || wc.ReorgWindow != 10 {
		t.Fatalf("%+v", wc)
	}
	if !AllocatorConfigFrom(config.Default().Monero, nil).RequireViewOnly {
		t.Fatal("require_view_only default lost")
	}
}

// TestWrongPathNamesTheSetting: a server answering 404 at the path the
// client uses (a URL with an extra path, another service) is ErrWrongPath,
// and the message names the setting and the form it wants.
func TestWrongPathNamesTheSetting(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	ctx := context.Background()
	w, _ := NewWalletClient(srv.URL+"/wallet", ClientOptions{})
	_, err := w.GetVersion(ctx)
	if !errors.Is(err, ErrWrongPath) {
		t.Fatalf("err = %v, want ErrWrongPath", err)
	}
	for _, want := range []string{"monero.wallet_rpc_url", "HTTP 404", "/wallet/json_rpc", "base URL", "http://127.0.0.1:18083"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("wallet error %q lacks %q", err, want)
		}
	}
	d, _ := NewDaemonClient(srv.URL, ClientOptions{})
	if _, err := d.GetInfo(ctx); !errors.Is(err, ErrWrongPath) || !strings.Contains(err.Error(), "monero.daemon_rpc_url") ||
		!strings.Contains(err.Error(), "18081") {
		t.Fatalf("daemon: %v", err)
	}
	// A URL with credentials, a query, another scheme: refused up front,
	// naming the setting and never the credentials.
	for _, u := range []string{"http://u:pw-Secret@127.0.0.1:1", "http://127.0.0.1:1/?x=1", "ftp://127.0.0.1:1", "u:pw-Secret@127.0.0.1"} {
		_, err := NewDaemonClient(u, ClientOptions{})
		if err == nil || !strings.Contains(err.Error(), "monero.daemon_rpc_url") || strings.Contains(err.Error(), "pw-Secret") {
			t.Errorf("%q: %v", u, err)
		}
	}
}

// TestDaemonLoginErrorsNameTheSettings: monerod --rpc-login speaks the
// same digest as wallet-rpc; without credentials or with wrong ones the
// error says which settings to set.
func TestDaemonLoginErrorsNameTheSettings(t *testing.T) {
	_, srv := newDigestServer(t, "node", "node-Pa55", func(string) string {
		return `{"result":{"height":12,"top_block_hash":"ab","status":"OK"}}`
	})
	ctx := context.Background()
	none, _ := NewDaemonClient(srv.URL, ClientOptions{})
	_, err := none.GetInfo(ctx)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "monero.daemon_rpc_user") ||
		!strings.Contains(err.Error(), "--rpc-login") {
		t.Fatalf("no credentials: %v", err)
	}
	bad, _ := NewDaemonClient(srv.URL, ClientOptions{User: "node", Password: "wrong-Pa55"})
	if _, err := bad.GetInfo(ctx); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "monero.daemon_rpc_password") ||
		strings.Contains(err.Error(), "wrong-Pa55") {
		t.Fatalf("wrong password: %v", err)
	}
	good, _ := NewDaemonClient(srv.URL, ClientOptions{User: "node", Password: "node-Pa55"})
	if info, err := good.GetInfo(ctx); err != nil || info.Height != 12 {
		t.Fatalf("right password: %+v %v", info, err)
	}
}
