package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ipn"
)

// ipnReceiver is a merchant's IPN endpoint: it verifies each signature with
// the subscription's secret, echoes the totals back and remembers the last
// acknowledged totals and the sequence per subscription.
type ipnReceiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	secrets map[string]string            // subscription id -> secret
	last    map[string]map[string]string // subscription id -> last acknowledged body
	seen    map[string][]string          // subscription id -> "confirmed/unconfirmed" in arrival order
	arrived map[string]time.Time         // "sub confirmed/unconfirmed" -> first arrival
	badSig  int
}

func newReceiver(t testing.TB) *ipnReceiver {
	r := &ipnReceiver{secrets: map[string]string{}, last: map[string]map[string]string{}, seen: map[string][]string{},
		arrived: map[string]time.Time{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *ipnReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, "bad json", 400)
		return
	}
	sub := fmt.Sprint(m["subscription_id"])
	r.mu.Lock()
	defer r.mu.Unlock()
	secret, ok := r.secrets[sub]
	if !ok || ipn.Verify(secret, req.Header.Get(ipn.HeaderSignature), body, time.Now(), 0) != nil {
		r.badSig++
		http.Error(w, "bad signature", 401)
		return
	}
	fields := map[string]string{}
	for k, v := range m {
		fields[k] = fmt.Sprint(v)
	}
	r.last[sub] = fields
	pair := fields["confirmed_atomic"] + "/" + fields["unconfirmed_atomic"]
	r.seen[sub] = append(r.seen[sub], pair)
	if _, ok := r.arrived[sub+" "+pair]; !ok {
		r.arrived[sub+" "+pair] = time.Now()
	}
	json.NewEncoder(w).Encode(map[string]any{"address": m["address"], "confirmed": m["confirmed"], "unconfirmed": m["unconfirmed"]})
}

func (r *ipnReceiver) lastTotals(sub string) (string, string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.last[sub]
	return f["confirmed_atomic"], f["unconfirmed_atomic"], ok
}

// daemonProc is one running `ipnd serve`.
type daemonProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// stack is the three regtest chains (btcd, litecoind, monerod), MySQL, a
// receiver and ipnd.
type stack struct {
	t         testing.TB
	btc       *btcdtest.Node
	ltc       *coretest.Node
	xmr       *monerotest.Net
	miner     *monerotest.WalletRPC
	minerAddr string
	recv      *ipnReceiver
	env       []string
	apiURL    string
	apiKey    string
	proc      *daemonProc
	allLogs   *syncBuffer
	// The last Monero transfer and when the wallet returned it.
	lastTxID     string
	lastTransfer time.Time
}

// accountTPub makes a fresh regtest account key m/84'/1'/0' and returns its
// public half: ipnd only ever sees that.
func accountTPub(t testing.TB) string {
	seed := make([]byte, 32)
	rand.Read(seed)
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

const viewLogin = "merchant:hunter2-wallet-login"

func newStack(t testing.TB, extraEnv ...string) *stack {
	if _, _, err := monerotest.Binaries(); err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := &stack{t: t, recv: newReceiver(t), apiKey: "test-api-key-0123456789", allLogs: &syncBuffer{}}
	s.btc = btcdtest.Start(t, btcdtest.Options{})
	s.btc.Generate(140) // 40 mature coinbases to pay from
	s.ltc = coretest.Shared(t, coretest.Options{Auth: coretest.AuthCookie})
	if s.ltc.Height() < 101 {
		s.ltc.Fund()
	}
	xmr, err := monerotest.Start(ctx)
	if err != nil {
		t.Fatalf("monerod: %v", err)
	}
	s.xmr = xmr
	t.Cleanup(xmr.Close)
	s.miner, err = xmr.StartWalletRPC(ctx, "miner", monerotest.WalletOptions{})
	must(t, err)
	must(t, s.miner.CreateWallet(ctx, "miner"))
	s.minerAddr, err = s.miner.PrimaryAddress(ctx)
	must(t, err)
	merchant, err := xmr.StartWalletRPC(ctx, "merchant", monerotest.WalletOptions{})
	must(t, err)
	must(t, merchant.CreateWallet(ctx, "merchant"))
	merchAddr, err := merchant.PrimaryAddress(ctx)
	must(t, err)
	viewKey, err := merchant.ViewKey(ctx)
	must(t, err)
	merchant.Stop()
	view, err := xmr.StartWalletRPC(ctx, "view", monerotest.WalletOptions{Login: viewLogin})
	must(t, err)
	must(t, view.RestoreViewOnly(ctx, "view", merchAddr, viewKey, 0))
	must(t, xmr.Mine(ctx, 100, s.minerAddr))

	listen := testenv.FreeAddr(t)
	s.apiURL = "http://" + listen
	user, pass, _ := strings.Cut(viewLogin, ":")
	s.env = []string{
		"IPND_SERVER_LISTEN=" + listen, "IPND_SERVER_API_KEYS=" + s.apiKey, "IPND_SERVER_LOG_LEVEL=debug",
		"IPND_DATABASE_DRIVER=mysql", "IPND_DATABASE_DSN=" + dbtest.MySQLDSN(t),
		"IPND_IPN_ALLOW_PRIVATE_TARGETS=true", "IPND_IPN_RETRY_SCHEDULE=200ms,500ms,1s", "IPND_IPN_TIMEOUT=2s", "IPND_IPN_LEASE=5s",
		"IPND_BITCOIN_ENABLED=true", "IPND_BITCOIN_NETWORK=regtest", "IPND_BITCOIN_RPC_HOST=" + s.btc.RPCHost,
		"IPND_BITCOIN_RPC_USER=" + s.btc.User, "IPND_BITCOIN_RPC_PASSWORD=" + s.btc.Pass, "IPND_BITCOIN_XPUB=" + accountTPub(t),
		"IPND_BITCOIN_ADDRESS_TYPE=p2wpkh", "IPND_BITCOIN_POLL_INTERVAL=250ms",
		"IPND_LITECOIN_ENABLED=true", "IPND_LITECOIN_NETWORK=regtest", "IPND_LITECOIN_RPC_HOST=" + s.ltc.RPCHost,
		"IPND_LITECOIN_RPC_COOKIE=" + s.ltc.CookiePath, "IPND_LITECOIN_XPUB=" + accountTPub(t), "IPND_LITECOIN_ADDRESS_TYPE=p2wpkh",
		"IPND_LITECOIN_POLL_INTERVAL=250ms",
		"IPND_MONERO_ENABLED=true", "IPND_MONERO_WALLET_RPC_URL=" + view.URL, "IPND_MONERO_DAEMON_RPC_URL=" + xmr.DaemonURL,
		"IPND_MONERO_WALLET_RPC_USER=" + user, "IPND_MONERO_WALLET_RPC_PASSWORD=" + pass, "IPND_MONERO_POLL_INTERVAL=250ms",
	}
	s.env = append(s.env, extraEnv...)
	t.Cleanup(func() {
		s.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("ipnd logs (tail):\n%s", tail(s.allLogs.String(), 60))
		}
	})
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// start runs ipnd serve and waits until /readyz answers 200.
func (s *stack) start() {
	s.t.Helper()
	s.proc = startIpnd(s.t, s.env, s.allLogs, s.apiURL)
}

// startIpnd runs `ipnd serve args...` with env; when readyURL is set it
// waits until readyURL/readyz answers 200.
func startIpnd(t testing.TB, env []string, all *syncBuffer, readyURL string, args ...string) *daemonProc {
	t.Helper()
	cmd := exec.Command(ipndBin, append([]string{"serve"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(logs, all), io.MultiWriter(logs, all)
	must(t, cmd.Start())
	p := &daemonProc{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	if readyURL == "" {
		return p
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("ipnd exited at start:\n%s", logs.String())
		default:
		}
		resp, err := http.Get(readyURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("ipnd not ready within 60 s:\n%s", tail(logs.String(), 40))
	return nil
}

func (s *stack) stop(sig syscall.Signal) {
	if s.proc == nil {
		return
	}
	s.proc.cmd.Process.Signal(sig)
	select {
	case <-s.proc.done:
	case <-time.After(15 * time.Second):
		s.proc.cmd.Process.Kill()
		<-s.proc.done
		s.t.Errorf("ipnd did not stop on %v within 15 s", sig)
	}
	s.proc = nil
}

func (s *stack) call(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.apiURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	d := json.NewDecoder(resp.Body)
	d.UseNumber()
	d.Decode(&out)
	return resp.StatusCode, out
}

type watched struct {
	chain   chains.Chain
	address string
	uri     string
	sub     string
	paid    uint64
}

// allocate makes an address with a subscription through POST /addresses.
func (s *stack) allocate(c chains.Chain, maxConfirms int) *watched {
	s.t.Helper()
	code, out := s.call("POST", "/addresses", map[string]any{"chain": string(c), "url": s.recv.srv.URL + "/ipn", "max_confirms": maxConfirms, "label": "order"})
	if code != 200 && code != 201 {
		s.t.Fatalf("POST /addresses %s: %d %v", c, code, out)
	}
	w := &watched{chain: c, address: fmt.Sprint(out["address"]), uri: fmt.Sprint(out["uri"])}
	sub, _ := out["subscription"].(map[string]any)
	if sub == nil {
		s.t.Fatalf("POST /addresses answered no subscription: %v", out)
	}
	w.sub = fmt.Sprint(sub["id"])
	s.recv.mu.Lock()
	s.recv.secrets[w.sub] = fmt.Sprint(sub["secret"])
	s.recv.mu.Unlock()
	return w
}

// waitTotals waits until the receiver acknowledged exactly these totals.
func (s *stack) waitTotals(w *watched, conf, unconf uint64, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	want := [2]string{strconv.FormatUint(conf, 10), strconv.FormatUint(unconf, 10)}
	for time.Now().Before(deadline) {
		c, u, _ := s.recv.lastTotals(w.sub)
		if [2]string{c, u} == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, u, _ := s.recv.lastTotals(w.sub)
	s.recv.mu.Lock()
	seq := s.recv.seen[w.sub]
	s.recv.mu.Unlock()
	s.t.Fatalf("%s %s: last acknowledged IPN (%s, %s), want (%s, %s); sequence %v", w.chain, w.address, c, u, want[0], want[1], seq)
}

func (s *stack) payBTC(ws []*watched, amount uint64) {
	var outs []btcdtest.Output
	for _, w := range ws {
		outs = append(outs, btcdtest.Output{Address: w.address, Amount: amount})
		w.paid += amount
	}
	s.btc.Pay(outs...)
}

func (s *stack) payLTC(ws []*watched, amount uint64) string {
	s.t.Helper()
	outs := map[string]json.Number{}
	for _, w := range ws {
		outs[w.address] = json.Number(coretest.FormatAmount(int64(amount)))
		w.paid += amount
	}
	var txid string
	s.ltc.With(s.t).CallWallet("sendmany", &txid, "", outs)
	return txid
}

func (s *stack) payXMR(ws []*watched, amount uint64) {
	s.t.Helper()
	var dests []monerotest.Destination
	for _, w := range ws {
		dests = append(dests, monerotest.Destination{Address: w.address, Amount: amount})
		w.paid += amount
	}
	if _, err := s.miner.Client.Refresh(context.Background()); err != nil {
		s.t.Fatalf("miner wallet refresh: %v", err)
	}
	txid, err := s.miner.Transfer(context.Background(), dests...)
	if err != nil {
		s.t.Fatalf("monero transfer: %v", err)
	}
	s.lastTxID, s.lastTransfer = txid, time.Now()
}

func (s *stack) mineXMR(n int) {
	s.t.Helper()
	must(s.t, s.xmr.Mine(context.Background(), n, s.minerAddr))
}

func randomDuration(max time.Duration) time.Duration {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(max)))
	return time.Duration(n.Int64())
}

// TestEndToEndWithCrashes runs ipnd on MySQL with the three regtest
// chains: POST /addresses for btc, ltc and xmr on one ipnd, unconfirmed then
// confirmed IPNs through the whole stack, then 30+ payments per chain
// (Bitcoin and Monero) while ipnd is killed with SIGKILL at random moments
// and restarted; at the end every subscription's last acknowledged IPN must
// equal the true totals, and the ledger must hold each payment once.
func TestEndToEndWithCrashes(t *testing.T) {
	s := newStack(t)
	s.start()

	// One payment per chain, followed from the mempool to confirmation.
	b := s.allocate(chains.BTC, 2)
	l := s.allocate(chains.LTC, 2)
	x := s.allocate(chains.XMR, 2)
	if !strings.HasPrefix(l.address, "rltc1q") || !strings.HasPrefix(l.uri, "litecoin:"+l.address) {
		t.Fatalf("POST /addresses ltc: %s, %s", l.address, l.uri)
	}
	s.payBTC([]*watched{b}, 150_000)
	s.payLTC([]*watched{l}, 2_500_000)
	s.payXMR([]*watched{x}, 1_250_000_000)
	s.waitTotals(b, 0, 150_000, 20*time.Second)
	s.waitTotals(l, 0, 2_500_000, 20*time.Second)
	s.waitTotals(x, 0, 1_250_000_000, 20*time.Second)
	s.btc.Generate(1)
	s.ltc.With(t).Generate(1)
	s.mineXMR(1)
	time.Sleep(time.Second) // one confirmation is below max_confirms: no change
	s.btc.Generate(1)
	s.ltc.With(t).Generate(1)
	s.mineXMR(1)
	s.waitTotals(b, 150_000, 0, 20*time.Second)
	s.waitTotals(l, 2_500_000, 0, 20*time.Second)
	s.waitTotals(x, 1_250_000_000, 0, 20*time.Second)
	code, bal := s.call("GET", "/balance?address="+l.address+"&max_confirms=2", nil)
	if code != 200 || bal["chain"] != "ltc" || bal["confirmed"] != "0.02500000" || fmt.Sprint(bal["confirmed_atomic"]) != "2500000" {
		t.Fatalf("/balance of the Litecoin address: %d %v", code, bal)
	}
	// The index checks at start: btcd cannot tell (a warning naming
	// first_index), litecoind's scantxoutset found no coins.
	for _, want := range []string{"setting=bitcoin.first_index", "empty ledger: no coins on the key's first addresses"} {
		if !strings.Contains(s.allLogs.String(), want) {
			t.Errorf("ipnd's log lacks %q", want)
		}
	}

	// Many payments with crashes.
	var btcAddrs, xmrAddrs []*watched
	for i := 0; i < 6; i++ {
		btcAddrs = append(btcAddrs, s.allocate(chains.BTC, 2))
		xmrAddrs = append(xmrAddrs, s.allocate(chains.XMR, 2))
	}
	btcAddrs, xmrAddrs = append(btcAddrs, b), append(xmrAddrs, x)
	payments := map[chains.Chain]int{chains.BTC: 1, chains.XMR: 1}
	kills := 0
	for round := 0; round < 6; round++ {
		// Each round pays every address once on each chain (7 outputs per tx).
		amountB := uint64(10_000 + round*1000)
		amountX := uint64(1_000_000_000 + round*1000)
		s.payBTC(btcAddrs, amountB)
		s.payXMR(xmrAddrs, amountX)
		payments[chains.BTC] += len(btcAddrs)
		payments[chains.XMR] += len(xmrAddrs)
		time.Sleep(randomDuration(700 * time.Millisecond))
		if round%2 == 0 {
			s.btc.Generate(1)
			s.mineXMR(1)
		}
		time.Sleep(randomDuration(500 * time.Millisecond))
		s.stop(syscall.SIGKILL)
		kills++
		if round%3 == 1 { // payments while ipnd is down
			s.btc.Generate(1)
			s.mineXMR(2)
		}
		s.start()
	}
	// Everything confirms: Monero change outputs also need 10 blocks before the next transfer.
	s.btc.Generate(3)
	s.mineXMR(3)
	if payments[chains.BTC] < 30 || payments[chains.XMR] < 30 || kills < 5 {
		t.Fatalf("scenario too small: %v payments, %d kills", payments, kills)
	}
	for _, w := range append(append([]*watched{}, btcAddrs...), xmrAddrs...) {
		s.waitTotals(w, w.paid, 0, 60*time.Second)
		code, bal := s.call("GET", "/balance?address="+w.address+"&max_confirms=2", nil)
		if code != 200 || fmt.Sprint(bal["confirmed_atomic"]) != strconv.FormatUint(w.paid, 10) || fmt.Sprint(bal["unconfirmed_atomic"]) != "0" {
			t.Fatalf("/balance %s: %d %v, want %d confirmed", w.address, code, bal, w.paid)
		}
	}
	// No deposit doubled: one ledger row per payment output.
	for c, n := range payments {
		rows := s.countDeposits(c)
		if rows != n {
			t.Errorf("%s: %d deposits in the ledger for %d payments", c, rows, n)
		}
	}
	if s.recv.badSig > 0 {
		t.Errorf("%d IPNs with a bad signature", s.recv.badSig)
	}
	assertNoSecret(t, "daemon logs", s.allLogs.String())
	if strings.Contains(s.allLogs.String(), s.apiKey) || strings.Contains(s.allLogs.String(), s.btc.Pass) {
		t.Errorf("daemon logs reveal the API key or the RPC password")
	}
	s.stop(syscall.SIGTERM)
}

func (s *stack) countDeposits(c chains.Chain) int {
	s.t.Helper()
	dsn := ""
	for _, e := range s.env {
		if v, ok := strings.CutPrefix(e, "IPND_DATABASE_DSN="); ok {
			dsn = v
		}
	}
	l := dbtest.Open(s.t, "mysql", dsn, db.Options{})
	var n int
	must(s.t, l.DB().QueryRow(`SELECT COUNT(*) FROM deposits WHERE chain = ? AND status = 'confirmed'`, string(c)).Scan(&n))
	return n
}
