package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
)

// errMissing is wrapped when a binary the demo needs is not there.
var errMissing = errors.New("missing component")

// Amounts the demo pays, in atomic units.
const (
	btcPayment uint64 = 150_000           // 0.0015 BTC
	xmrPayment uint64 = 1_250_000_000_000 // 1.25 XMR
	// minerBlocks are mined to the Monero miner wallet: coinbase outputs
	// unlock after 60 blocks, and a transfer needs decoys.
	minerBlocks = 100
)

type options struct {
	IPND     string // the ipnd binary
	Confirms int    // max_confirms of the subscriptions
	Wait     bool   // keep running after the confirmed IPNs until ctx ends
	Verbose  bool   // copy ipnd's log to standard error
	// Pause between the steps after the payments, so that a person can
	// follow the balance; 0 in tests.
	Pause time.Duration
	Out   io.Writer
	// OnStep, when set, is called after each named step ("nodes",
	// "ipnd", "invoiced", "paid", "unconfirmed", "confirmed"): tests cancel
	// the demo there.
	OnStep func(step string)
}

// result is what a finished demo saw, for its test.
type result struct {
	Dir      string // the temporary directory (removed when run returns)
	Payments []payment
	IPNs     int // IPNs acknowledged
	Rejected int // IPNs refused by the receiver (bad signature, ...)
	IPNDLog  string
}

type payment struct {
	Chain   chains.Chain
	Address string
	Sub     int64
	Paid    uint64
	IPNs    []totals // acknowledged IPNs in arrival order
	Balance totals   // GET /balance at the end
	// The invoice the payment is for: its id, checkout page, the status of
	// each acknowledged IPN's invoice block and the status at the end.
	Invoice     string
	CheckoutURL string
	Statuses    []string
	Status      string
}

// console prints one line per event, prefixed with the time since start.
type console struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (c *console) say(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "[%5.1fs] %s\n", time.Since(c.start).Seconds(), fmt.Sprintf(format, args...))
}

func unit(c chains.Chain) string { return strings.ToUpper(string(c)) }

// short abbreviates an address for display.
func short(addr string) string {
	if len(addr) <= 24 {
		return addr
	}
	return addr[:12] + "…" + addr[len(addr)-8:]
}

// demo is one run's state.
type demo struct {
	o      options
	con    *console
	h      *harness
	btc    *btcdtest.Node
	xmr    *monerotest.Net
	miner  *monerotest.WalletRPC
	mineTo string
	recv   *receiver
	// viewURL and viewLogin reach the merchant's view-only wallet-rpc.
	viewURL   string
	viewLogin string
	api       string
	apiKey    string
	ipnd      *exec.Cmd
	log       *lockedFile
	done      chan struct{}
}

// run is the whole demo. It returns when the confirmed IPNs arrived (or,
// with o.Wait, when ctx ends), when ctx is cancelled, or on the first error;
// every process it started is stopped and its directory removed before it
// returns.
func run(ctx context.Context, o options) (res *result, err error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Confirms < 1 {
		o.Confirms = 2
	}
	step := func(name string) {
		if o.OnStep != nil {
			o.OnStep(name)
		}
	}
	d := &demo{o: o, con: &console{w: o.Out, start: time.Now()}}
	if err := d.check(); err != nil {
		return nil, err
	}
	d.h, err = newHarness()
	if err != nil {
		return nil, err
	}
	res = &result{Dir: d.h.dir}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				d.h.close()
				panic(r)
			}
			err = errors.New(f.msg)
		}
		if err != nil && ctx.Err() == nil && d.log != nil && d.log.String() != "" {
			fmt.Fprintf(os.Stderr, "ipnd log (tail):\n%s\n", tail(d.log.String(), 30))
		}
		if d.log != nil {
			res.IPNDLog = d.log.String()
		}
		d.con.say("stopping ipnd, the wallets, monerod and btcd; removing %s", d.h.dir)
		if ctx.Err() != nil {
			// Interrupted: nothing needs saving. Whatever has not stopped
			// gracefully after a short grace (a wallet-rpc busy creating a
			// wallet ignores signals for a while) is killed.
			closed := make(chan struct{})
			defer close(closed)
			go killLaggards(closed, 3*time.Second)
		}
		d.h.close()
		d.con.say("all stopped")
	}()
	d.con.say("everything runs in %s and is removed at the end; Ctrl-C stops it at any time", d.h.dir)

	if err := d.startNodes(ctx); err != nil {
		return res, err
	}
	step("nodes")
	if d.recv, err = startReceiver(d.con); err != nil {
		return res, err
	}
	d.h.Cleanup(d.recv.close)
	d.con.say("IPN receiver on %s: verifies each signature with the subscription's secret and echoes", d.recv.URL)
	if err := d.startIPND(ctx); err != nil {
		return res, err
	}
	step("ipnd")

	b, err := d.invoice(ctx, chains.BTC, btcPayment)
	if err != nil {
		return res, err
	}
	x, err := d.invoice(ctx, chains.XMR, xmrPayment)
	if err != nil {
		return res, err
	}
	pays := []*payment{b, x}
	step("invoiced")

	watchCtx, stopWatch := context.WithCancel(ctx)
	var watching sync.WaitGroup
	watching.Add(1)
	go func() { defer watching.Done(); d.watchBalances(watchCtx, pays) }()
	defer func() { stopWatch(); watching.Wait() }()

	// btcdtest's calls do not take a context, and btcd's RPC client retries
	// a node that Ctrl-C stopped for ~20 s: look at ctx before each one.
	if err := ctx.Err(); err != nil {
		return res, err
	}
	d.btc.Pay(btcdtest.Output{Address: b.Address, Amount: btcPayment})
	b.Paid = btcPayment
	d.con.say("paid     BTC %s: %s BTC (in the mempool)", short(b.Address), chains.BTC.FormatAmount(btcPayment))
	xmrTx, err := d.payXMR(ctx, x.Address, xmrPayment)
	if err != nil {
		return res, err
	}
	x.Paid = xmrPayment
	d.con.say("paid     XMR %s: %s XMR (in the pool)", short(x.Address), chains.XMR.FormatAmount(xmrPayment))
	step("paid")

	for _, p := range pays {
		if err := d.recv.wait(ctx, p.Sub, totals{Unconfirmed: p.Paid}, 30*time.Second); err != nil {
			return res, err
		}
	}
	step("unconfirmed")
	if err := d.pause(ctx); err != nil {
		return res, err
	}

	// One block each: 1 confirmation, still unconfirmed when Confirms > 1.
	d.btc.Generate(1)
	n, err := d.xmr.MineTx(ctx, d.mineTo, xmrTx)
	if err != nil {
		return res, err
	}
	confs := map[chains.Chain]int{chains.BTC: 1, chains.XMR: 1}
	d.con.say("mined    1 BTC block and %d XMR block(s): the payments have 1 confirmation of the %d needed", n, o.Confirms)
	for confs[chains.BTC] < o.Confirms || confs[chains.XMR] < o.Confirms {
		if err := d.waitConfirmations(ctx, pays, confs); err != nil {
			return res, err
		}
		if err := d.pause(ctx); err != nil {
			return res, err
		}
		if confs[chains.BTC] < o.Confirms {
			d.btc.Generate(1)
			confs[chains.BTC]++
		}
		if confs[chains.XMR] < o.Confirms {
			if err := d.xmr.Mine(ctx, 1, d.mineTo); err != nil {
				return res, err
			}
			confs[chains.XMR]++
		}
		d.con.say("mined    1 more block on each chain: %d confirmations", min(confs[chains.BTC], confs[chains.XMR]))
	}
	for _, p := range pays {
		if err := d.recv.wait(ctx, p.Sub, totals{Confirmed: p.Paid}, 30*time.Second); err != nil {
			return res, err
		}
	}
	if err := d.pause(ctx); err != nil {
		return res, err
	}
	stopWatch()
	watching.Wait()
	step("confirmed")

	// Summary.
	d.con.say("summary:")
	for _, p := range pays {
		bal, err := d.balance(ctx, p.Address)
		if err != nil {
			return res, err
		}
		p.Balance = bal.totals
		p.IPNs = d.recv.acknowledged(p.Sub)
		p.Statuses = d.recv.statuses(p.Sub)
		if p.Status, err = d.invoiceStatus(ctx, p.Invoice); err != nil {
			return res, err
		}
		var seq []string
		for _, t := range p.IPNs {
			seq = append(seq, fmt.Sprintf("%s/%s", p.Chain.FormatAmount(t.Confirmed), p.Chain.FormatAmount(t.Unconfirmed)))
		}
		d.con.say("  %s %s: paid %s %s; balance confirmed %s, unconfirmed %s; IPNs (confirmed/unconfirmed): %s",
			unit(p.Chain), short(p.Address), p.Chain.FormatAmount(p.Paid), unit(p.Chain),
			bal.Confirmed, bal.Unconfirmed, strings.Join(seq, " → "))
		d.con.say("  %s invoice %s %s; checkout page: %s", unit(p.Chain), p.Invoice, p.Status, p.CheckoutURL)
		res.Payments = append(res.Payments, *p)
	}
	d.recv.mu.Lock()
	res.IPNs, res.Rejected = d.recv.count, d.recv.badSig
	d.recv.mu.Unlock()
	d.con.say("  %d IPNs acknowledged, %d rejected; took %.0f s", res.IPNs, res.Rejected, time.Since(d.con.start).Seconds())

	if o.Wait {
		d.con.say("everything keeps running until Ctrl-C. Try:")
		d.con.say("  curl -H 'Authorization: Bearer %s' '%s/balance?address=%s&max_confirms=%d'", d.apiKey, d.api, b.Address, o.Confirms)
		d.con.say("  curl -H 'Authorization: Bearer %s' '%s/invoices/%s'", d.apiKey, d.api, b.Invoice)
		d.con.say("  open the checkout pages in a browser: %s and %s", b.CheckoutURL, x.CheckoutURL)
		<-ctx.Done()
	}
	return res, nil
}

// killLaggards waits grace, then SIGKILLs this process's children every
// 500 ms until done is closed.
func killLaggards(done <-chan struct{}, grace time.Duration) {
	wait := grace
	for {
		select {
		case <-done:
			return
		case <-time.After(wait):
		}
		for _, pid := range children() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		wait = 500 * time.Millisecond
	}
}

// children lists the processes whose parent is this process (from /proc).
// A child keeps its pid until it is waited for, so these are ours.
func children() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 2 && f[0] != "Z" {
			if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == self {
				out = append(out, pid)
			}
		}
	}
	return out
}

// pause waits o.Pause, and returns ctx's error: callers go on to btcd
// calls, which do not look at ctx.
func (d *demo) pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-time.After(d.o.Pause):
	}
	return ctx.Err()
}

// check finds the binaries before anything starts.
func (d *demo) check() error {
	if _, err := btcdtest.LookBinary(); err != nil {
		return fmt.Errorf("%w: %v", errMissing, err)
	}
	if _, _, err := monerotest.Binaries(); err != nil {
		return fmt.Errorf("%w: %v", errMissing, err)
	}
	if st, err := os.Stat(d.o.IPND); err != nil || st.IsDir() {
		return fmt.Errorf("%w: ipnd binary %q not found (make build, or -ipnd PATH)", errMissing, d.o.IPND)
	}
	abs, err := filepath.Abs(d.o.IPND) // ipnd runs in its own directory
	if err != nil {
		return err
	}
	d.o.IPND = abs
	return nil
}

// startNodes starts btcd (with 101 blocks: a mature coinbase to pay from),
// monerod, a miner wallet with minerBlocks blocks and the merchant's
// view-only wallet. The miner and the merchant are set up concurrently.
func (d *demo) startNodes(ctx context.Context) error {
	d.btc = btcdtest.Start(d.h, btcdtest.Options{})
	if err := ctx.Err(); err != nil {
		return err
	}
	d.btc.Generate(101)
	d.con.say("btcd     regtest on %s: 101 blocks mined, the payer's first coinbase is mature", d.btc.RPCHost)

	xmr, err := monerotest.Start(ctx)
	if err != nil {
		return fmt.Errorf("monerod: %w", err)
	}
	d.xmr = xmr
	d.h.Cleanup(xmr.Close)
	d.con.say("monerod  regtest on %s", strings.TrimPrefix(xmr.DaemonURL, "http://"))

	minerErr := make(chan error, 1)
	go func() { minerErr <- d.startMiner(ctx) }()
	viewURL, login, err := d.startMerchant(ctx)
	if mErr := <-minerErr; err == nil {
		err = mErr
	}
	if err != nil {
		return err
	}
	d.viewURL, d.viewLogin = viewURL, login
	return nil
}

func (d *demo) startMiner(ctx context.Context) error {
	var err error
	if d.miner, err = d.xmr.StartWalletRPC(ctx, "miner", monerotest.WalletOptions{}); err != nil {
		return err
	}
	if err := d.miner.CreateWallet(ctx, "miner"); err != nil {
		return err
	}
	if d.mineTo, err = d.miner.PrimaryAddress(ctx); err != nil {
		return err
	}
	if err := d.xmr.Mine(ctx, minerBlocks, d.mineTo); err != nil {
		return err
	}
	d.con.say("monero   miner wallet: %d blocks mined to it", minerBlocks)
	return nil
}

// startMerchant creates the merchant's wallet, keeps only its address and
// private view key, and opens a view-only wallet from them in a wallet-rpc
// with a login: what ipnd is given can not spend.
func (d *demo) startMerchant(ctx context.Context) (walletURL, login string, err error) {
	merchant, err := d.xmr.StartWalletRPC(ctx, "merchant", monerotest.WalletOptions{})
	if err != nil {
		return "", "", err
	}
	if err := merchant.CreateWallet(ctx, "merchant"); err != nil {
		return "", "", err
	}
	addr, err := merchant.PrimaryAddress(ctx)
	if err != nil {
		return "", "", err
	}
	viewKey, err := merchant.ViewKey(ctx)
	if err != nil {
		return "", "", err
	}
	merchant.Stop()
	login = "merchant:" + randomHex(12)
	view, err := d.xmr.StartWalletRPC(ctx, "view", monerotest.WalletOptions{Login: login})
	if err != nil {
		return "", "", err
	}
	if err := view.RestoreViewOnly(ctx, "view", addr, viewKey, 0); err != nil {
		return "", "", err
	}
	d.con.say("monero   merchant's view-only wallet (no spend key) for %s", short(addr))
	return view.URL, login, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// accountTPub makes a fresh regtest account key m/84'/1'/0' and returns its
// public half: ipnd only ever sees that.
func accountTPub() (string, error) {
	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	k, err := hdkeychain.NewMaster(seed, btcdtest.Params)
	if err != nil {
		return "", err
	}
	for _, i := range []uint32{84, 1, 0} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			return "", err
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		return "", err
	}
	return pub.String(), nil
}

// lockedFile is ipnd's log: a file, and a copy in memory for errors.
type lockedFile struct {
	mu  sync.Mutex
	f   *os.File
	buf bytes.Buffer
	tee io.Writer
}

func (l *lockedFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.tee != nil {
		_, _ = l.tee.Write(p)
	}
	return l.f.Write(p)
}

func (l *lockedFile) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startIPND runs `ipnd serve` with its configuration in IPND_* variables
// and an SQLite ledger in the demo's directory, and waits until /readyz
// says both chains are synced.
func (d *demo) startIPND(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	listen := ln.Addr().String()
	ln.Close()
	d.api = "http://" + listen
	d.apiKey = "demo-" + randomHex(16)
	tpub, err := accountTPub()
	if err != nil {
		return err
	}
	user, pass, _ := strings.Cut(d.viewLogin, ":")
	dir := filepath.Join(d.h.dir, "ipnd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ledger := filepath.Join(dir, "ipnd.db")
	env := []string{
		"IPND_SERVER_LISTEN=" + listen, "IPND_SERVER_API_KEYS=" + d.apiKey, "IPND_SERVER_LOG_LEVEL=info",
		"IPND_DATABASE_DRIVER=sqlite", "IPND_DATABASE_DSN=" + ledger,
		"IPND_IPN_ALLOW_PRIVATE_TARGETS=true", "IPND_IPN_RETRY_SCHEDULE=200ms,500ms,1s,2s",
		"IPND_IPN_TIMEOUT=2s", "IPND_IPN_LEASE=5s", "IPND_IPN_POLL_INTERVAL=100ms",
		"IPND_BITCOIN_ENABLED=true", "IPND_BITCOIN_NETWORK=regtest", "IPND_BITCOIN_RPC_HOST=" + d.btc.RPCHost,
		"IPND_BITCOIN_RPC_USER=" + d.btc.User, "IPND_BITCOIN_RPC_PASSWORD=" + d.btc.Pass, "IPND_BITCOIN_XPUB=" + tpub,
		"IPND_BITCOIN_ADDRESS_TYPE=p2wpkh", "IPND_BITCOIN_POLL_INTERVAL=250ms",
		"IPND_MONERO_ENABLED=true", "IPND_MONERO_WALLET_RPC_URL=" + d.viewURL, "IPND_MONERO_DAEMON_RPC_URL=" + d.xmr.DaemonURL,
		"IPND_MONERO_WALLET_RPC_USER=" + user, "IPND_MONERO_WALLET_RPC_PASSWORD=" + pass, "IPND_MONERO_POLL_INTERVAL=250ms",
	}
	logf, err := os.Create(filepath.Join(dir, "ipnd.log"))
	if err != nil {
		return err
	}
	d.log = &lockedFile{f: logf}
	if d.o.Verbose {
		d.log.tee = os.Stderr
	}
	cmd := exec.Command(d.o.IPND, "serve")
	cmd.Dir = dir
	// The user's own IPND_* settings must not leak into the demo.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "IPND_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = d.log, d.log
	// ipnd dies with the demo even if the demo is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start ipnd: %w", err)
	}
	d.ipnd, d.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(d.done) }()
	d.h.Cleanup(d.stopIPND)

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-d.done:
			return fmt.Errorf("ipnd exited at start (%v)", cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", d.api+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return errors.New("ipnd not ready within 60 s")
		}
	}
	d.con.say("ipnd     serving on %s, SQLite ledger %s, both chains synced", d.api, ledger)
	return nil
}

// stopIPND stops ipnd gracefully (SIGTERM), killing it after 15 s.
func (d *demo) stopIPND() {
	_ = d.ipnd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.ipnd.Process.Kill()
		<-d.done
	}
}

// call makes one API request with the key and decodes the JSON answer.
func (d *demo) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.api+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// payXMR sends amount from the miner wallet and returns the txid.
func (d *demo) payXMR(ctx context.Context, addr string, amount uint64) (string, error) {
	if _, err := d.miner.Client.Refresh(ctx); err != nil {
		return "", fmt.Errorf("miner wallet refresh: %w", err)
	}
	return d.miner.Transfer(ctx, monerotest.Destination{Address: addr, Amount: amount})
}

type balanceAnswer struct {
	totals
	Confirmed    string
	Unconfirmed  string
	Height       int64
	Confirmation int64 // of the newest counted transaction; -1 if none
}

func (d *demo) balance(ctx context.Context, addr string) (balanceAnswer, error) {
	var out struct {
		Confirmed         string `json:"confirmed"`
		Unconfirmed       string `json:"unconfirmed"`
		ConfirmedAtomic   string `json:"confirmed_atomic"`
		UnconfirmedAtomic string `json:"unconfirmed_atomic"`
		Height            int64  `json:"height"`
		Transactions      []struct {
			Confirmations int64  `json:"confirmations"`
			CountsAs      string `json:"counts_as"`
		} `json:"transactions"`
	}
	q := url.Values{"address": {addr}, "max_confirms": {strconv.Itoa(d.o.Confirms)}}
	if err := d.call(ctx, "GET", "/balance?"+q.Encode(), nil, &out); err != nil {
		return balanceAnswer{}, err
	}
	t, err := notification{ConfirmedAtomic: out.ConfirmedAtomic, UnconfirmedAtomic: out.UnconfirmedAtomic}.totals()
	if err != nil {
		return balanceAnswer{}, fmt.Errorf("GET /balance: %w", err)
	}
	b := balanceAnswer{totals: t, Confirmed: out.Confirmed, Unconfirmed: out.Unconfirmed, Height: out.Height, Confirmation: -1}
	for _, tx := range out.Transactions {
		if tx.CountsAs != "none" {
			b.Confirmation = tx.Confirmations
		}
	}
	return b, nil
}

// watchBalances polls GET /balance of each payment and prints a line
// whenever the totals or the confirmations change.
func (d *demo) watchBalances(ctx context.Context, pays []*payment) {
	type seen struct {
		t totals
		c int64
	}
	last := map[string]seen{}
	for {
		for _, p := range pays {
			b, err := d.balance(ctx, p.Address)
			if err != nil {
				if ctx.Err() == nil {
					d.con.say("balance  %s: %v", unit(p.Chain), err)
				}
				continue
			}
			s := seen{b.totals, b.Confirmation}
			if old, ok := last[p.Address]; ok && old == s {
				continue
			}
			last[p.Address] = s
			conf := "no payment yet"
			if b.Confirmation >= 0 {
				conf = fmt.Sprintf("%d confirmation(s)", b.Confirmation)
			}
			d.con.say("balance  %s %s: confirmed %s, unconfirmed %s (%s)", unit(p.Chain), short(p.Address), b.Confirmed, b.Unconfirmed, conf)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitConfirmations waits until /balance shows every payment with at least
// confs[chain] confirmations (ipnd has seen the blocks).
func (d *demo) waitConfirmations(ctx context.Context, pays []*payment, confs map[chains.Chain]int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, p := range pays {
		for {
			b, err := d.balance(ctx, p.Address)
			if err == nil && b.Confirmation >= int64(confs[p.Chain]) {
				break
			}
			select {
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("%s %s: ipnd did not see %d confirmation(s) within 30 s (%v)", p.Chain, p.Address, confs[p.Chain], err)
				}
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
