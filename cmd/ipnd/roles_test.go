package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/testenv"
)

// TestSeparateRoles runs the roles as separate processes on one MySQL
// ledger, as seed 004 ran its three daemons: two sync processes (one active,
// one standing by), an ipn process and an api process. An address allocated
// and one subscribed through the api process are paid; the ipn process
// delivers; the active sync process is killed and the standby takes over
// and confirms the payments. Every process is observable: the sync and ipn
// processes serve /metrics and /readyz on metrics_listen, and readiness in
// any process follows the sync role's heartbeat (an api-only process
// without a sync process is not ready; it used to say "synced" at height 0).
func TestSeparateRoles(t *testing.T) {
	s := &stack{t: t, recv: newReceiver(t), apiKey: "test-api-key-0123456789", allLogs: &syncBuffer{}}
	s.btc = btcdtest.Start(t, btcdtest.Options{})
	s.btc.Generate(105)
	listen := testenv.FreeAddr(t)
	s.apiURL = "http://" + listen
	s.env = []string{
		"IPND_SERVER_LISTEN=" + listen, "IPND_SERVER_API_KEYS=" + s.apiKey, "IPND_SERVER_LOG_LEVEL=debug",
		"IPND_DATABASE_DRIVER=mysql", "IPND_DATABASE_DSN=" + dbtest.MySQLDSN(t),
		"IPND_IPN_ALLOW_PRIVATE_TARGETS=true", "IPND_IPN_RETRY_SCHEDULE=200ms,500ms", "IPND_IPN_TIMEOUT=2s", "IPND_IPN_LEASE=5s",
		"IPND_BITCOIN_ENABLED=true", "IPND_BITCOIN_NETWORK=regtest", "IPND_BITCOIN_RPC_HOST=" + s.btc.RPCHost,
		"IPND_BITCOIN_RPC_USER=" + s.btc.User, "IPND_BITCOIN_RPC_PASSWORD=" + s.btc.Pass, "IPND_BITCOIN_XPUB=" + accountTPub(t),
		"IPND_BITCOIN_POLL_INTERVAL=250ms",
	}
	var procs []*daemonProc
	t.Cleanup(func() {
		for _, p := range procs {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("ipnd logs (tail):\n%s", tail(s.allLogs.String(), 80))
		}
	})
	api := startIpnd(t, s.env, s.allLogs, "", "-roles", "api")
	procs = append(procs, api)
	if code, m := readyz(t, s.apiURL, func(code int, m map[string]any) bool { return code != 0 }); code != 503 ||
		chainReady(m, "btc")["state"] != "stale" {
		t.Fatalf("api process without any sync process: /readyz %d %v; want 503, btc stale", code, m)
	}
	syncMetrics := "http://" + testenv.FreeAddr(t)
	sync1 := startIpnd(t, append(s.env, "IPND_SERVER_METRICS_LISTEN="+strings.TrimPrefix(syncMetrics, "http://")), s.allLogs, "", "-roles", "sync")
	procs = append(procs, sync1)
	waitLog(t, sync1, "sync lock held", 20*time.Second)
	for _, u := range []string{s.apiURL, syncMetrics} {
		readyz(t, u, func(code int, m map[string]any) bool {
			return code == 200 && chainReady(m, "btc")["height"] == json.Number("105")
		})
	}
	wantMetric(t, syncMetrics, `ipnd_chain_height{chain="btc"} 105`)
	notified, sock := listenNotify(t)
	sync2 := startIpnd(t, append(s.env, "NOTIFY_SOCKET="+sock), s.allLogs, "", "-roles", "sync")
	procs = append(procs, sync2)
	waitLog(t, sync2, "standing by", 20*time.Second)
	notified.waitFor(t, "READY=1", 5*time.Second) // a standby is ready: systemd must not kill it
	if !strings.Contains(sync2.logs.String(), "server.metrics_listen is empty") {
		t.Error("a sync process without metrics_listen did not say it cannot be watched")
	}
	ipnMetrics := "http://" + testenv.FreeAddr(t)
	procs = append(procs, startIpnd(t, append(s.env, "IPND_SERVER_METRICS_LISTEN="+strings.TrimPrefix(ipnMetrics, "http://")),
		s.allLogs, ipnMetrics, "-roles", "ipn"))

	allocated := s.allocate(chains.BTC, 2)
	// An address not derived from the xpub, subscribed through the api process.
	foreign := &watched{chain: chains.BTC, address: btcdtest.NewWallet(t).Address.String()}
	code, out := s.call("POST", "/subscribe", map[string]any{"address": foreign.address, "url": s.recv.srv.URL + "/ipn", "max_confirms": 2})
	if code != 200 || out["status"] != "success" {
		t.Fatalf("POST /subscribe: %d %v", code, out)
	}
	foreign.sub = fmt.Sprint(out["id"])
	s.recv.mu.Lock()
	s.recv.secrets[foreign.sub] = fmt.Sprint(out["secret"])
	s.recv.mu.Unlock()

	s.payBTC([]*watched{allocated, foreign}, 40_000)
	s.waitTotals(allocated, 0, 40_000, 20*time.Second)
	s.waitTotals(foreign, 0, 40_000, 20*time.Second)

	// The active sync process dies; the standby takes over.
	sync1.cmd.Process.Signal(syscall.SIGKILL)
	<-sync1.done
	waitLog(t, sync2, "sync lock held", 20*time.Second)
	s.btc.Generate(2)
	s.waitTotals(allocated, 40_000, 0, 20*time.Second)
	s.waitTotals(foreign, 40_000, 0, 20*time.Second)
	if strings.Contains(api.logs.String(), "sync lock") {
		t.Error("the api-only process took part in syncing")
	}
	// The ipn process's own metrics: its deliveries and their latency.
	wantMetric(t, ipnMetrics, `ipnd_delivery_attempts_total{outcome="delivered"}`)
	wantMetric(t, ipnMetrics, `ipnd_payment_latency_seconds_count{chain="btc"}`)
	wantMetric(t, ipnMetrics, `ipnd_chain_state{chain="btc",state="synced"} 1`)
}

// readyz polls url/readyz until done(status, body) holds and returns them
// (status 0 while nothing answers).
func readyz(t *testing.T, url string, done func(int, map[string]any) bool) (int, map[string]any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, m := 0, map[string]any(nil)
		if resp, err := http.Get(url + "/readyz"); err == nil {
			dec := json.NewDecoder(resp.Body)
			dec.UseNumber()
			dec.Decode(&m)
			resp.Body.Close()
			code = resp.StatusCode
		}
		if done(code, m) {
			return code, m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz: still %d %v", url, code, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func chainReady(m map[string]any, c string) map[string]any {
	cs, _ := m["chains"].(map[string]any)
	out, _ := cs[c].(map[string]any)
	return out
}

// wantMetric waits until url/metrics has a line starting with prefix.
func wantMetric(t *testing.T, url, prefix string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var text string
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			text = string(b)
			for _, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(l, prefix) {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s/metrics has no line %q:\n%s", url, prefix, tail(text, 40))
}

func waitLog(t *testing.T, p *daemonProc, text string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if strings.Contains(p.logs.String(), text) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no log line %q within %s:\n%s", text, within, tail(p.logs.String(), 30))
}
