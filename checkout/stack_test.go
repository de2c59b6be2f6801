package checkout_test

// The whole of ipnd in this process, against real regtest nodes: btcd (the
// package's shared node) and a Monero network (monerod, a miner wallet and
// the merchant's view-only wallet behind --rpc-login, started once in
// TestMain), a MySQL ledger, both chain watchers, the IPN worker, the
// invoice expiry and the HTTP API with the checkout pages, and a receiver
// that verifies every IPN's signature and acknowledges it by echo.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/api"
	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/browsertest"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ipn"
)

// xmrFixture is the package's Monero network.
type xmrFixture struct {
	net       *monerotest.Net
	miner     *monerotest.WalletRPC
	view      *monerotest.WalletRPC
	minerAddr string
}

const viewUser, viewPass = "ipnd", "view-wallet-login"

var (
	xmr      *xmrFixture
	xmrErr   error
	accounts atomic.Uint32 // each stack hands out subaddresses of its own account
)

func TestMain(m *testing.M) {
	xmr, xmrErr = startMonero()
	code := m.Run()
	if xmr != nil {
		xmr.net.Close()
	}
	btcdtest.CloseShared()
	browsertest.CloseShared()
	os.Exit(code)
}

func startMonero() (*xmrFixture, error) {
	if _, _, err := monerotest.Binaries(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := monerotest.Start(ctx)
	if err != nil {
		return nil, err
	}
	f := &xmrFixture{net: n}
	fail := func(err error) (*xmrFixture, error) { n.Close(); return nil, err }
	minerDone := make(chan error, 1)
	go func() {
		var err error
		if f.miner, err = n.StartWalletRPC(ctx, "miner", monerotest.WalletOptions{}); err == nil {
			if err = f.miner.CreateWallet(ctx, "miner"); err == nil {
				f.minerAddr, err = f.miner.PrimaryAddress(ctx)
			}
		}
		minerDone <- err
	}()
	merchant, err := n.StartWalletRPC(ctx, "merchant", monerotest.WalletOptions{})
	if err != nil {
		return fail(err)
	}
	if err := merchant.CreateWallet(ctx, "merchant"); err != nil {
		return fail(err)
	}
	addr, err := merchant.PrimaryAddress(ctx)
	if err != nil {
		return fail(err)
	}
	viewKey, err := merchant.ViewKey(ctx)
	if err != nil {
		return fail(err)
	}
	merchant.Stop()
	if f.view, err = n.StartWalletRPC(ctx, "view", monerotest.WalletOptions{Login: viewUser + ":" + viewPass}); err != nil {
		return fail(err)
	}
	if err := f.view.RestoreViewOnly(ctx, "view", addr, viewKey, 0); err != nil {
		return fail(err)
	}
	if err := <-minerDone; err != nil {
		return fail(err)
	}
	// Coinbases unlock after 60 blocks: 100 leave ~40 outputs to pay from.
	if err := n.Mine(ctx, 100, f.minerAddr); err != nil {
		return fail(err)
	}
	return f, nil
}

// needMonero returns the Monero network, or skips (fails under make test)
// without the binaries.
func needMonero(t *testing.T) *xmrFixture {
	t.Helper()
	if xmrErr != nil {
		if errors.Is(xmrErr, monerotest.ErrMissing) {
			testenv.Unavailable(t, "%v", xmrErr)
		}
		t.Fatalf("monero regtest: %v", xmrErr)
	}
	return xmr
}

// receiver is the shop's IPN endpoint.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	ipns   map[int64][]ipnBody // by subscription, acknowledged, in arrival order
	badSig int
}

// ipnBody is what the tests read of an IPN.
type ipnBody struct {
	ID                int64          `json:"id"`
	SubscriptionID    int64          `json:"subscription_id"`
	Address           string         `json:"address"`
	Confirmed         string         `json:"confirmed"`
	Unconfirmed       string         `json:"unconfirmed"`
	ConfirmedAtomic   string         `json:"confirmed_atomic"`
	UnconfirmedAtomic string         `json:"unconfirmed_atomic"`
	Invoice           invoice.Notice `json:"invoice"`
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{ipns: map[int64][]ipnBody{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secret == "" || ipn.Verify(r.secret, req.Header.Get(ipn.HeaderSignature), body, time.Now(), 0) != nil {
		r.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b ipnBody
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	list := r.ipns[b.SubscriptionID]
	if len(list) == 0 || list[len(list)-1].ID != b.ID { // a retry of the same IPN is acknowledged again, not recorded twice
		r.ipns[b.SubscriptionID] = append(list, b)
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"address": b.Address, "confirmed": b.Confirmed, "unconfirmed": b.Unconfirmed})
}

func (r *receiver) got(sub int64) []ipnBody {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ipnBody(nil), r.ipns[sub]...)
}

// stack is ipnd in this process.
type stack struct {
	t      *testing.T
	ctx    context.Context
	l      *db.Ledger
	btc    *btcdtest.Node
	xmr    *xmrFixture // nil without Monero
	recv   *receiver
	url    string // the API's base URL
	apiKey string
}

// stackOptions change the stack's configuration.
type stackOptions struct {
	monero bool
}

func tpub(t *testing.T) string {
	seed := make([]byte, 32)
	copy(seed, t.Name())
	k, err := hdkeychain.NewMaster(seed, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint32{84, 1, 0} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	return pub.String()
}

// testLogger writes ipnd's log to the test's log when the test fails.
type testLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stack{t: t, ctx: ctx, btc: btcdtest.Shared(t), recv: newReceiver(t), apiKey: "invoice-test-key-0123456789"}
	if o.monero {
		s.xmr = needMonero(t)
	}
	logs := &testLogger{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			logs.mu.Lock()
			lines := strings.Split(logs.buf.String(), "\n")
			logs.mu.Unlock()
			t.Logf("ipnd log (tail):\n%s", strings.Join(lines[max(0, len(lines)-80):], "\n"))
		}
	})
	s.l = dbtest.Ledger(t, "mysql", db.Options{Payload: ipn.Payload, Logger: log})

	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.APIKeys = []config.Secret{config.Secret(s.apiKey)}
	cfg.IPN.AllowPrivateTargets = true
	cfg.IPN.RetrySchedule = []config.Duration{config.Duration(200 * time.Millisecond), config.Duration(500 * time.Millisecond)}
	cfg.IPN.Timeout, cfg.IPN.Lease = config.Duration(2*time.Second), config.Duration(5*time.Second)
	cfg.IPN.PollInterval = config.Duration(50 * time.Millisecond)
	cfg.Invoices.MinExpiry = config.Duration(time.Second) // short expiries for the tests
	cfg.Bitcoin = config.Bitcoin{Enabled: true, Network: "regtest", RPCHost: s.btc.RPCHost, RPCUser: s.btc.User,
		RPCPassword: config.Secret(s.btc.Pass), XPub: tpub(t), AddressType: "p2wpkh", GapLimit: 5,
		PollInterval: config.Duration(250 * time.Millisecond), RPCTimeout: config.Duration(10 * time.Second), Push: "auto"}

	worker := ipn.NewWorker(s.l, ipn.OptionsFromConfig(cfg.IPN, "test", log))
	hooks := struct{ notify func() }{worker.Notify}
	var wg sync.WaitGroup
	run := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%s stopped: %v", name, err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	deriver, err := bitcoin.NewDeriver("regtest", cfg.Bitcoin.XPub, cfg.Bitcoin.AddressType)
	if err != nil {
		t.Fatal(err)
	}
	wc := bitcoin.WatcherConfigFrom(cfg.Bitcoin, log)
	wc.Hooks.Notify = hooks.notify
	btcWatcher := bitcoin.NewWatcher(bitcoin.NewClient(bitcoin.RPCConfigFrom(cfg.Bitcoin)), s.l, deriver, wc)
	adapters := map[chains.Chain]api.Chain{chains.BTC: bitcoin.NewAPIAdapter(deriver, s.l, btcWatcher)}
	watchers := []interface{ Status() chains.Status }{btcWatcher}
	run("btc watcher", btcWatcher.Run)
	if s.xmr != nil {
		cfg.Monero = config.Monero{Enabled: true, WalletRPCURL: s.xmr.view.URL, WalletRPCUser: viewUser,
			WalletRPCPassword: config.Secret(viewPass), DaemonRPCURL: s.xmr.net.DaemonURL, AccountIndex: accounts.Add(1),
			PollInterval: config.Duration(250 * time.Millisecond), RequireViewOnly: true, ReorgWindow: 10}
		wallet, daemon, err := monero.Clients(cfg.Monero)
		if err != nil {
			t.Fatal(err)
		}
		start := monero.NewStarter(wallet, daemon, s.l, monero.StarterConfigFrom(cfg.Monero, log))
		run("monero start", start.Run)
		mc := monero.WatcherConfigFrom(cfg.Monero, log)
		mc.Hooks.Notify, mc.Gate = hooks.notify, start
		xw := monero.NewWatcher(wallet, daemon, s.l, mc)
		adapters[chains.XMR] = monero.NewAPIAdapter(start, xw, s.l)
		watchers = append(watchers, xw)
		run("xmr watcher", xw.Run)
	}
	run("ipn worker", worker.Run)
	run("invoice expiry", db.InvoiceExpiry{Ledger: s.l, Poll: 200 * time.Millisecond, Expired: func(int) { worker.Notify() }, Logger: log}.Run)

	srv, err := api.New(api.Options{Ledger: s.l, Chains: adapters, Server: cfg.Server, IPN: cfg.IPN, Invoices: cfg.Invoices,
		CheckURL: ipn.CheckURL, NewSecret: ipn.NewSecret, Notify: worker.Notify, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://" + ln.Addr().String()
	run("api", func(ctx context.Context) error { return srv.Serve(ctx, ln) })

	// Ready: every watcher synced.
	s.eventually("the watchers sync", 60*time.Second, func() bool {
		for _, w := range watchers {
			if w.Status().State != chains.Synced {
				return false
			}
		}
		return true
	})
	return s
}

// eventually polls cond until it holds, failing the test after within.
func (s *stack) eventually(what string, within time.Duration, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not within %v", what, within)
		}
		select {
		case <-s.ctx.Done():
			s.t.Fatalf("%s: stack stopped", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// call makes an API request with the key and decodes the JSON answer.
func (s *stack) call(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(s.ctx, method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	_ = dec.Decode(&out)
	return resp.StatusCode, out
}

// created is an invoice as POST /invoices answered it.
type created struct {
	ID, Address, URI, CheckoutURL, QRPNG string
	AmountAtomic                         uint64
	Chain                                chains.Chain
	Sub                                  int64
	ExpiresAt                            time.Time
}

// create makes an invoice with the receiver as its IPN URL.
func (s *stack) create(c chains.Chain, amountAtomic uint64, expiresIn string, maxConfirms int, extra map[string]any) created {
	s.t.Helper()
	body := map[string]any{"chain": string(c), "amount_atomic": fmt.Sprint(amountAtomic), "url": s.recv.srv.URL + "/ipn",
		"max_confirms": maxConfirms, "description": "Order " + s.t.Name()}
	if expiresIn != "" {
		body["expires_in"] = expiresIn
	}
	for k, v := range extra {
		body[k] = v
	}
	code, m := s.call("POST", "/invoices", body)
	if code != http.StatusCreated {
		s.t.Fatalf("POST /invoices: %d %v", code, m)
	}
	sub, _ := m["subscription"].(map[string]any)
	if sub == nil {
		s.t.Fatalf("POST /invoices answered no subscription: %v", m)
	}
	s.recv.mu.Lock()
	s.recv.secret = fmt.Sprint(sub["secret"]) // one receiver URL: one endpoint secret
	s.recv.mu.Unlock()
	var subID int64
	fmt.Sscan(fmt.Sprint(sub["id"]), &subID)
	exp, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["expires_at"]))
	if err != nil {
		s.t.Fatal(err)
	}
	return created{ID: fmt.Sprint(m["id"]), Address: fmt.Sprint(m["address"]), URI: fmt.Sprint(m["uri"]),
		CheckoutURL: fmt.Sprint(m["checkout_url"]), QRPNG: fmt.Sprint(m["qr_png"]), AmountAtomic: amountAtomic, Chain: c,
		Sub: subID, ExpiresAt: exp}
}

// get reads an invoice through the API.
func (s *stack) get(id string) map[string]any {
	s.t.Helper()
	code, m := s.call("GET", "/invoices/"+id, nil)
	if code != 200 {
		s.t.Fatalf("GET /invoices/%s: %d %v", id, code, m)
	}
	return m
}

// waitIPNs waits until the receiver acknowledged IPNs of inv whose invoice
// statuses are exactly want (in order); the next wait sees anything more.
func (s *stack) waitIPNs(inv created, want ...invoice.Status) []ipnBody {
	s.t.Helper()
	return s.waitIPNsOneOf(inv, want)
}

// waitIPNsOneOf is waitIPNs for a sequence that may take one of several
// courses (a reorg whose transaction the wallet sees back in the pool for
// a moment, say).
func (s *stack) waitIPNsOneOf(inv created, wants ...[]invoice.Status) []ipnBody {
	s.t.Helper()
	statuses := func() []invoice.Status {
		var out []invoice.Status
		for _, b := range s.recv.got(inv.Sub) {
			out = append(out, b.Invoice.Status)
		}
		return out
	}
	match := func(got []invoice.Status) (done, possible bool) {
		for _, w := range wants {
			if fmt.Sprint(got) == fmt.Sprint(w) {
				return true, true
			}
			if len(got) < len(w) && fmt.Sprint(got) == fmt.Sprint(w[:len(got)]) {
				possible = true
			}
		}
		return false, possible
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := statuses()
		done, possible := match(got)
		if done {
			break
		}
		if !possible || time.Now().After(deadline) {
			s.t.Fatalf("invoice %s: IPN statuses %v, want one of %v", inv.ID, got, wants)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := s.recv.got(inv.Sub)
	for _, b := range got {
		if b.Invoice.ID != inv.ID || b.Address != inv.Address || b.Invoice.AmountAtomic != fmt.Sprint(inv.AmountAtomic) {
			s.t.Fatalf("IPN %+v is not about invoice %s at %s", b, inv.ID, inv.Address)
		}
	}
	s.recv.mu.Lock()
	bad := s.recv.badSig
	s.recv.mu.Unlock()
	if bad > 0 {
		s.t.Fatalf("%d IPNs with a bad signature", bad)
	}
	return got
}
