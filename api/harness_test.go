package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/metrics"
)

// fakeChain is a unit-test stand-in for a chain adapter, recording its
// addresses in the real ledger. Bitcoin-like fake addresses are "bcrt1q"
// followed by 10..80 of [a-z0-9]; mainnet-looking "bc1q..." ones are the
// wrong network. Monero-like ones are "5" followed by 94 letters/digits, and
// only those the fake wallet made (Allocate) or knows (wallet) can be
// watched.
type fakeChain struct {
	c      chains.Chain
	l      *db.Ledger
	mu     sync.Mutex
	status chains.Status
	wallet map[string]bool
	panics bool
}

func newFake(c chains.Chain, l *db.Ledger) *fakeChain {
	return &fakeChain{c: c, l: l, wallet: map[string]bool{},
		status: chains.Status{Chain: c, State: chains.Synced, Height: 10, NodeHeight: 10}}
}

func btcAddr(i uint32) string { return fmt.Sprintf("bcrt1qfake%010d", i) }

func xmrAddr(tag string) string {
	s := "5" + tag
	return s + strings.Repeat("x", 95-len(s))
}

// Canonical mimics bech32: an all-upper-case address is the lower-case one.
func (f *fakeChain) Canonical(addr string) (string, error) {
	if f.c == chains.BTC && addr == strings.ToUpper(addr) {
		addr = strings.ToLower(addr)
	}
	if err := f.Validate(addr); err != nil {
		return "", fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return addr, nil
}

func (f *fakeChain) Validate(addr string) error {
	if f.panics {
		panic("fake adapter panic")
	}
	switch f.c {
	case chains.BTC:
		if strings.HasPrefix(addr, "bc1q") || strings.HasPrefix(addr, "1") {
			return fmt.Errorf("address is for mainnet, this server is on regtest")
		}
		rest, ok := strings.CutPrefix(addr, "bcrt1q")
		if !ok || len(rest) < 10 || len(rest) > 80 || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return fmt.Errorf("not a regtest address")
		}
	case chains.XMR:
		if len(addr) != 95 || addr[0] != '5' {
			return fmt.Errorf("not a Monero stagenet address")
		}
		for _, r := range addr {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return fmt.Errorf("not base58")
			}
		}
	}
	return nil
}

func (f *fakeChain) Allocate(ctx context.Context, label string) (chains.Address, error) {
	if f.c == chains.BTC {
		return f.l.AllocateAddress(ctx, f.c, func(i uint32) (string, error) { return btcAddr(i), nil }, label)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	max, err := f.l.HighestSubaddressIndex(ctx, f.c, 0)
	if err != nil {
		return chains.Address{}, err
	}
	acc, sub := uint32(0), uint32(max+1)
	if sub == 0 {
		sub = 1 // index 0 is the wallet's main address
	}
	a := xmrAddr(fmt.Sprintf("sub%d", sub))
	f.wallet[a] = true
	return f.l.EnsureAddress(ctx, chains.Address{Chain: f.c, Address: a, AccountIndex: &acc, SubaddressIndex: &sub, Label: label})
}

func (f *fakeChain) AddressAt(ctx context.Context, index uint32, label string) (chains.Address, error) {
	if f.c != chains.BTC {
		return chains.Address{}, fmt.Errorf("%w: fixed indexes are not supported for %s", ErrRejected, f.c)
	}
	return f.l.EnsureAddress(ctx, chains.Address{Chain: f.c, Address: btcAddr(index), DerivationIndex: &index, Label: label})
}

func (f *fakeChain) Watch(ctx context.Context, addr string) (chains.Address, error) {
	if err := f.Validate(addr); err != nil {
		return chains.Address{}, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if f.c == chains.XMR {
		f.mu.Lock()
		known := f.wallet[addr]
		f.mu.Unlock()
		if !known {
			return chains.Address{}, fmt.Errorf("%w: not a subaddress of this wallet", ErrRejected)
		}
	}
	return f.l.EnsureAddress(ctx, chains.Address{Chain: f.c, Address: addr})
}

func (f *fakeChain) Status() chains.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

// setState sets the fake watcher's state and writes it as the sync role's
// heartbeat (what readiness and the chain metrics read).
func (f *fakeChain) setState(s chains.SyncState) {
	f.mu.Lock()
	f.status.State = s
	st := f.status
	f.mu.Unlock()
	f.beat(st)
}

func (f *fakeChain) setStatus(st chains.Status) {
	f.mu.Lock()
	f.status = st
	f.mu.Unlock()
	f.beat(st)
}

func (f *fakeChain) beat(st chains.Status) {
	if err := f.l.Beat(context.Background(), "test-sync", st); err != nil {
		panic(err)
	}
}

const (
	testKey  = "test-key-0123456789abcdef"
	otherKey = "other-key-9876543210fedcba"
)

type harnessOpts struct {
	driver       string // default sqlite
	unauth       bool
	noXMR        bool
	allowPrivate bool
}

type harness struct {
	t     testing.TB
	l     *db.Ledger
	btc   *fakeChain
	xmr   *fakeChain
	s     *Server
	srv   *httptest.Server
	reg   *metrics.Registry
	pokes atomic.Int64
	tip   map[chains.Chain]int64
	auth  bool // send the key
}

func testOptions(l Ledger, cs map[chains.Chain]Chain, o harnessOpts) Options {
	ipnCfg := config.Default().IPN
	ipnCfg.AllowPrivateTargets = o.allowPrivate
	srvCfg := config.Default().Server
	srvCfg.Listen = "127.0.0.1:0"
	srvCfg.APIKeys = []config.Secret{testKey, otherKey}
	if o.unauth {
		srvCfg.APIKeys = nil
		srvCfg.AllowUnauthenticated = true
	}
	return Options{Ledger: l, Chains: cs, Server: srvCfg, IPN: ipnCfg, CheckURL: ipn.CheckURL, NewSecret: ipn.NewSecret,
		Networks: map[chains.Chain]string{chains.BTC: "regtest"}, Version: "test"}
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	if o.driver == "" {
		o.driver = "sqlite"
	}
	h := &harness{t: t, l: dbtest.Ledger(t, o.driver, db.Options{Payload: ipn.Payload}), tip: map[chains.Chain]int64{}, auth: true}
	h.btc = newFake(chains.BTC, h.l)
	h.xmr = newFake(chains.XMR, h.l)
	h.btc.setState(chains.Synced) // a sync role follows both chains
	h.xmr.setState(chains.Synced)
	cs := map[chains.Chain]Chain{chains.BTC: h.btc}
	if !o.noXMR {
		cs[chains.XMR] = h.xmr
	}
	h.reg = metrics.New()
	opts := testOptions(h.l, cs, o)
	opts.Notify = func() { h.pokes.Add(1) }
	opts.Metrics = h.reg
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	h.srv = httptest.NewServer(s.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// answer is a response.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

func (a answer) json(t testing.TB) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", a.code, err, a.body)
	}
	return m
}

func (h *harness) send(method, path, ctype string, body []byte, hdr ...string) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if h.auth {
		req.Header.Set("Authorization", "Bearer "+testKey)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// postJSON sends v (a map or a raw JSON string) as a JSON body.
func (h *harness) postJSON(path string, v any) answer {
	h.t.Helper()
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			h.t.Fatal(err)
		}
	}
	return h.send("POST", path, "application/json", b)
}

func (h *harness) get(pathAndQuery string) answer {
	h.t.Helper()
	return h.send("GET", pathAndQuery, "", nil)
}

// wantError checks a 4xx JSON error naming field.
func wantError(t testing.TB, a answer, code int, field string) {
	t.Helper()
	if a.code != code {
		t.Fatalf("status %d, want %d: %s", a.code, code, a.body)
	}
	m := a.json(t)
	if m["field"] != field {
		t.Fatalf("error field %v, want %q: %s", m["field"], field, a.body)
	}
	if s, _ := m["error"].(string); s == "" {
		t.Fatalf("error without message: %s", a.body)
	}
}

func wantOK(t testing.TB, a answer) map[string]any {
	t.Helper()
	if a.code != http.StatusOK {
		t.Fatalf("status %d: %s", a.code, a.body)
	}
	return a.json(t)
}

// mine applies the next block of c with payments.
func (h *harness) mine(c chains.Chain, ps ...chains.Payment) {
	h.t.Helper()
	h.tip[c]++
	b := chains.Block{Height: h.tip[c], Hash: fmt.Sprintf("%s-block-%d", c, h.tip[c])}
	if _, err := h.l.ApplyChainUpdate(context.Background(), c, chains.ChainUpdate{Connect: []chains.BlockPayments{{Block: b, Payments: ps}}}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) mempool(c chains.Chain, ps ...chains.Payment) {
	h.t.Helper()
	if _, err := h.l.ApplyChainUpdate(context.Background(), c, chains.ChainUpdate{Mempool: ps}); err != nil {
		h.t.Fatal(err)
	}
}

func pay(txid, addr string, amount uint64) chains.Payment {
	return chains.Payment{TxID: txid, Address: addr, Amount: amount}
}
