package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/testenv"
)

// The Monero tests of `ipnd serve` share one regtest network, started by the
// first of them: monerod behind --rpc-login and publishing on ZMQ, a miner
// wallet, and the merchant's view-only wallet behind its own login. Each
// test runs ipnd on its own wallet account and ledger.
type xmrFixture struct {
	net       *monerotest.Net
	miner     *monerotest.WalletRPC
	view      *monerotest.WalletRPC
	minerAddr string
}

const daemonLogin = "node:hunter2-daemon-login"

var (
	xmrOnce  sync.Once
	xmrFx    *xmrFixture
	xmrErr   error
	xmrAccts atomic.Uint32
)

func sharedXMR(t testing.TB) *xmrFixture {
	t.Helper()
	if _, _, err := monerotest.Binaries(); err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	xmrOnce.Do(func() { xmrFx, xmrErr = startXMR() })
	if xmrErr != nil {
		t.Fatalf("monero regtest: %v", xmrErr)
	}
	return xmrFx
}

// closeXMR stops the shared network (TestMain).
func closeXMR() {
	if xmrFx != nil {
		xmrFx.net.Close()
	}
}

func startXMR() (*xmrFixture, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := monerotest.StartWith(ctx, monerotest.Options{Login: daemonLogin, ZMQPub: true})
	if err != nil {
		return nil, err
	}
	f := &xmrFixture{net: n}
	xmrFx = f // closed by TestMain even if the rest fails
	minerDone := make(chan error, 1)
	go func() {
		m, err := n.StartWalletRPC(ctx, "miner", monerotest.WalletOptions{})
		if err == nil {
			err = m.CreateWallet(ctx, "miner")
		}
		if err == nil {
			f.minerAddr, err = m.PrimaryAddress(ctx)
		}
		f.miner = m
		minerDone <- err
	}()
	merchant, err := n.StartWalletRPC(ctx, "merchant", monerotest.WalletOptions{})
	if err != nil {
		return f, err
	}
	if err := merchant.CreateWallet(ctx, "merchant"); err != nil {
		return f, err
	}
	addr, err := merchant.PrimaryAddress(ctx)
	if err != nil {
		return f, err
	}
	viewKey, err := merchant.ViewKey(ctx)
	if err != nil {
		return f, err
	}
	merchant.Stop()
	if f.view, err = n.StartWalletRPC(ctx, "view", monerotest.WalletOptions{Login: viewLogin}); err != nil {
		return f, err
	}
	if err := f.view.RestoreViewOnly(ctx, "view", addr, viewKey, 0); err != nil {
		return f, err
	}
	if err := <-minerDone; err != nil {
		return f, err
	}
	return f, n.Mine(ctx, 100, f.minerAddr)
}

// xmrStack is a stack with only the shared Monero network, ipnd on a
// wallet account of its own and a SQLite ledger (extraEnv may change both).
func xmrStack(t testing.TB, extraEnv ...string) *stack {
	f := sharedXMR(t)
	s := &stack{t: t, xmr: f.net, miner: f.miner, minerAddr: f.minerAddr, recv: newReceiver(t),
		apiKey: "test-api-key-0123456789", allLogs: &syncBuffer{}}
	listen := testenv.FreeAddr(t)
	s.apiURL = "http://" + listen
	user, pass, _ := strings.Cut(viewLogin, ":")
	duser, dpass, _ := strings.Cut(daemonLogin, ":")
	s.env = []string{
		"IPND_SERVER_LISTEN=" + listen, "IPND_SERVER_API_KEYS=" + s.apiKey, "IPND_SERVER_LOG_LEVEL=debug",
		"IPND_IPN_ALLOW_PRIVATE_TARGETS=true", "IPND_IPN_RETRY_SCHEDULE=200ms,500ms,1s", "IPND_IPN_TIMEOUT=2s",
		"IPND_MONERO_ENABLED=true", "IPND_MONERO_ACCOUNT_INDEX=" + strconv.Itoa(int(xmrAccts.Add(1))),
		"IPND_MONERO_WALLET_RPC_URL=" + f.view.URL, "IPND_MONERO_WALLET_RPC_USER=" + user, "IPND_MONERO_WALLET_RPC_PASSWORD=" + pass,
		"IPND_MONERO_DAEMON_RPC_URL=" + f.net.DaemonURL, "IPND_MONERO_DAEMON_RPC_USER=" + duser, "IPND_MONERO_DAEMON_RPC_PASSWORD=" + dpass,
		"IPND_MONERO_DAEMON_ZMQ_PUB=" + f.net.Main.ZMQPub, "IPND_MONERO_POLL_INTERVAL=250ms",
	}
	s.env = append(s.env, extraEnv...)
	t.Cleanup(func() {
		s.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("ipnd logs (tail):\n%s", tail(s.allLogs.String(), 60))
		}
		if strings.Contains(s.allLogs.String(), "hunter2") {
			t.Errorf("ipnd logs reveal a secret")
		}
	})
	return s
}

// readyz returns /readyz's status code and the xmr entry.
func (s *stack) readyz() (int, map[string]any) {
	resp, err := http.Get(s.apiURL + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out struct {
		Chains map[string]map[string]any `json:"chains"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Chains["xmr"]
}

// waitLog waits until ipnd's log contains want.
func (s *stack) waitLog(want string, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(s.allLogs.String(), want) {
		if time.Now().After(deadline) {
			s.t.Fatalf("ipnd never logged %q", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exitsWith runs ipnd serve with env and waits for it to exit non-zero with
// every one of wants in its output.
func exitsWith(t *testing.T, env []string, wants ...string) {
	t.Helper()
	logs := &syncBuffer{}
	p := startIpnd(t, env, logs, "")
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("ipnd kept running; want it to exit with %q:\n%s", wants, tail(logs.String(), 30))
	}
	if p.cmd.ProcessState.ExitCode() == 0 {
		t.Fatalf("ipnd exited 0; want an error with %q:\n%s", wants, tail(logs.String(), 30))
	}
	for _, w := range wants {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("ipnd's error does not say %q:\n%s", w, tail(logs.String(), 30))
		}
	}
	assertNoSecret(t, "ipnd output", logs.String())
}

func with(env []string, kv ...string) []string {
	return append(append([]string(nil), env...), kv...)
}

// TestMoneroURLForms: both URLs in the /json_rpc form many Monero tools
// print work; a URL whose path answers 404 stops ipnd at start with an
// error naming the key and the form it wants.
func TestMoneroURLForms(t *testing.T) {
	s := xmrStack(t)
	f := sharedXMR(t)
	s.env = with(s.env, "IPND_MONERO_WALLET_RPC_URL="+f.view.URL+"/json_rpc", "IPND_MONERO_DAEMON_RPC_URL="+f.net.DaemonURL+"/json_rpc/")
	s.start()
	x := s.allocate(chains.XMR, 1)
	s.payXMR([]*watched{x}, 1_000_000_000)
	s.waitTotals(x, 0, 1_000_000_000, 20*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for code, st := s.readyz(); code != 200 || st["feed"] != "zmq"; code, st = s.readyz() {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz %d %v: want ready with feed zmq", code, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop(syscall.SIGTERM)

	exitsWith(t, with(s.env, "IPND_MONERO_WALLET_RPC_URL="+f.view.URL+"/wallet/json_rpc"),
		"monero.wallet_rpc_url", "HTTP 404", "/wallet/json_rpc", "base URL")
	exitsWith(t, with(s.env, "IPND_MONERO_DAEMON_RPC_URL="+f.net.DaemonURL+"/monerod"),
		"monero.daemon_rpc_url", "HTTP 404", "/monerod/json_rpc", "base URL")
}

// TestMoneroDaemonLogin: monerod behind --rpc-login: without
// daemon_rpc_user/password ipnd is not ready and says which settings to
// set; with them it syncs.
func TestMoneroDaemonLogin(t *testing.T) {
	s := xmrStack(t)
	good := s.env
	s.env = with(s.env, "IPND_MONERO_DAEMON_RPC_USER=", "IPND_MONERO_DAEMON_RPC_PASSWORD=")
	s.proc = startIpnd(t, s.env, s.allLogs, "")
	s.waitLog("monero.daemon_rpc_user", 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for code, st := s.readyz(); code != 503 || st["state"] != string(chains.Unreachable); code, st = s.readyz() {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz without the daemon login: %d %v", code, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop(syscall.SIGTERM)
	s.env = good
	s.start() // waits for /readyz 200: monerod answers with the login
	if _, st := s.readyz(); st["node_height"] == nil || st["state"] != string(chains.Synced) {
		t.Fatalf("/readyz with the daemon login: %v", st)
	}
}

// TestMoneroWalletRPCStartedLate: wallet-rpc comes up 10 s after ipnd:
// meanwhile /readyz says unreachable and Monero addresses are refused with
// 503; then ipnd becomes ready without a restart.
func TestMoneroWalletRPCStartedLate(t *testing.T) {
	s := xmrStack(t)
	f := sharedXMR(t)
	f.view.Stop()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = f.view.Restart(context.Background())
		}
	})
	s.proc = startIpnd(t, s.env, s.allLogs, "")
	upAt := time.Now().Add(10 * time.Second)
	sawUnreachable := false
	for time.Now().Before(upAt) {
		select {
		case <-s.proc.done:
			t.Fatalf("ipnd exited while wallet-rpc was down:\n%s", tail(s.allLogs.String(), 30))
		default:
		}
		if code, st := s.readyz(); code == 503 && st["state"] == string(chains.Unreachable) {
			sawUnreachable = true
		} else if code == 200 {
			t.Fatalf("/readyz 200 while wallet-rpc is down: %v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !sawUnreachable {
		t.Fatal("/readyz never said xmr unreachable while wallet-rpc was down")
	}
	if code, out := s.call("POST", "/addresses", map[string]any{"chain": "xmr"}); code != 503 {
		t.Fatalf("POST /addresses xmr while wallet-rpc is down: %d %v", code, out)
	}
	if err := f.view.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(60 * time.Second)
	for code, st := s.readyz(); code != 200; code, st = s.readyz() {
		if time.Now().After(deadline) {
			t.Fatalf("not ready 60 s after wallet-rpc came up: %d %v", code, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	x := s.allocate(chains.XMR, 1)
	s.payXMR([]*watched{x}, 700_000_000)
	s.waitTotals(x, 0, 700_000_000, 20*time.Second)
}

// TestMoneroLockedForeverThenNormal: a payment with unlock_time 2^64-1
// (wallet-rpc 0.18 accepts it, the view wallet reports it), then a normal
// payment to another subaddress, on SQLite and MySQL: the normal one is
// notified; the locked one is listed by /balance as locked and counts in
// neither total.
func TestMoneroLockedForeverThenNormal(t *testing.T) {
	for _, driver := range []string{"sqlite", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			env := []string{"IPND_DATABASE_DRIVER=" + driver}
			if driver == "mysql" {
				env = append(env, "IPND_DATABASE_DSN="+dbtest.MySQLDSN(t))
			}
			s := xmrStack(t, env...)
			s.start()
			locked, normal := s.allocate(chains.XMR, 1), s.allocate(chains.XMR, 1)
			ctx := context.Background()
			if _, err := s.miner.Client.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			lockedTx, err := s.miner.TransferLocked(ctx, 1<<64-1, monerotest.Destination{Address: locked.address, Amount: 3_000_000_000})
			if err != nil {
				t.Fatalf("transfer with unlock_time 2^64-1: %v", err)
			}
			s.payXMR([]*watched{normal}, 2_000_000_000)
			s.waitTotals(normal, 0, 2_000_000_000, 20*time.Second)
			if _, err := s.xmr.MineTx(ctx, s.minerAddr, lockedTx, s.lastTxID); err != nil {
				t.Fatal(err)
			}
			s.waitTotals(normal, 2_000_000_000, 0, 20*time.Second)
			deadline := time.Now().Add(20 * time.Second)
			for {
				code, bal := s.call("GET", "/balance?max_confirms=1&address="+locked.address, nil)
				txs, _ := bal["transactions"].([]any)
				if code == 200 && len(txs) == 1 {
					tx := txs[0].(map[string]any)
					if tx["status"] == "confirmed" {
						if tx["txid"] != lockedTx || tx["locked"] != true || tx["counts_as"] != "none" ||
							tx["unlock_time"] != "9223372036854775807" || bal["confirmed_atomic"] != "0" || bal["unconfirmed_atomic"] != "0" {
							t.Fatalf("/balance of the locked payment: %v", bal)
						}
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("/balance of the locked payment: %d %v", code, bal)
				}
				time.Sleep(100 * time.Millisecond)
			}
			s.recv.mu.Lock()
			seen := fmt.Sprint(s.recv.seen[locked.sub])
			s.recv.mu.Unlock()
			if strings.Contains(seen, "3000000000") {
				t.Fatalf("the locked payment was counted in an IPN: %s", seen)
			}
			if strings.Contains(s.allLogs.String(), "high bit") {
				t.Fatalf("the ledger refused a value:\n%s", tail(s.allLogs.String(), 20))
			}
		})
	}
}
