package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/db/dbtest"
)

// TestSeparateRoles runs the roles as separate processes on one MySQL
// ledger, as seed 004 ran its three daemons: two sync processes (one active,
// one standing by), an ipn process and an api process. An address allocated
// and one subscribed through the api process are paid; the ipn process
// delivers; the active sync process is killed and the standby takes over
// and confirms the payments.
func TestSeparateRoles(t *testing.T) {
	s := &stack{t: t, recv: newReceiver(t), apiKey: "test-api-key-0123456789", allLogs: &syncBuffer{}}
	s.btc = btcdtest.Start(t, btcdtest.Options{})
	s.btc.Generate(105)
	listen := freeAddr(t)
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
	api := startIpnd(t, s.env, s.allLogs, s.apiURL, "-roles", "api")
	procs = append(procs, api)
	sync1 := startIpnd(t, s.env, s.allLogs, "", "-roles", "sync")
	procs = append(procs, sync1)
	waitLog(t, sync1, "sync lock held", 20*time.Second)
	notified, sock := listenNotify(t)
	sync2 := startIpnd(t, append(s.env, "NOTIFY_SOCKET="+sock), s.allLogs, "", "-roles", "sync")
	procs = append(procs, sync2)
	waitLog(t, sync2, "standing by", 20*time.Second)
	notified.waitFor(t, "READY=1", 5*time.Second) // a standby is ready: systemd must not kill it
	procs = append(procs, startIpnd(t, s.env, s.allLogs, "", "-roles", "ipn"))

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
