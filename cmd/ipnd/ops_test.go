package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ipn"
)

// shopReceiver is a shop's IPN endpoint as the README says to write one: it
// verifies the signature with the endpoint's secret, keeps the highest
// IPN-Id per subscription and echoes the totals it holds. While broken it
// answers 500 to everything.
type shopReceiver struct {
	srv *httptest.Server

	mu     sync.Mutex
	secret string
	broken bool
	held   map[string]shopHeld // subscription_id -> newest IPN
	posts  int
}

type shopHeld struct {
	id   int64
	echo map[string]string
}

func newShopReceiver(t *testing.T, broken bool) *shopReceiver {
	r := &shopReceiver{broken: broken, held: map[string]shopHeld{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *shopReceiver) url() string { return r.srv.URL + "/ipn" }

func (r *shopReceiver) set(secret string, broken bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if secret != "" {
		r.secret = secret
	}
	r.broken = broken
}

func (r *shopReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts++
	if r.broken {
		http.Error(w, "the shop's database is down", http.StatusInternalServerError)
		return
	}
	if ipn.Verify(r.secret, req.Header.Get(ipn.HeaderSignature), body, time.Now(), 0) != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var n struct {
		SubscriptionID                  json.Number `json:"subscription_id"`
		Address, Confirmed, Unconfirmed string
	}
	id, err := strconv.ParseInt(req.Header.Get(ipn.HeaderID), 10, 64)
	if err != nil || json.Unmarshal(body, &n) != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	key := n.SubscriptionID.String()
	if h, seen := r.held[key]; !seen || id >= h.id {
		r.held[key] = shopHeld{id, map[string]string{"address": n.Address, "confirmed": n.Confirmed, "unconfirmed": n.Unconfirmed}}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(r.held[key].echo)
}

// opsStack is ipnd serving every role (console included) on a MariaDB
// ledger, following the package's shared btcd, with receivers that retry
// only hourly, so that a failing delivery stays failing until someone
// redelivers it.
type opsStack struct {
	t      *testing.T
	btc    *btcdtest.Node
	env    []string
	apiURL string
	apiKey string
	proc   *daemonProc
	logs   *syncBuffer
}

func newOpsStack(t *testing.T, extraEnv ...string) *opsStack {
	s := &opsStack{t: t, btc: btcdtest.Shared(t), apiKey: "ops-api-key-0123456789abc", logs: &syncBuffer{}}
	listen := testenv.FreeAddr(t)
	s.apiURL = "http://" + listen
	s.env = append([]string{
		"IPND_SERVER_LISTEN=" + listen, "IPND_SERVER_API_KEYS=" + s.apiKey, "IPND_SERVER_LOG_LEVEL=debug",
		"IPND_DATABASE_DRIVER=mysql", "IPND_DATABASE_DSN=" + dbtest.MySQLDSN(t),
		"IPND_IPN_ALLOW_PRIVATE_TARGETS=true", "IPND_IPN_RETRY_SCHEDULE=1h", "IPND_IPN_TIMEOUT=2s",
		"IPND_BITCOIN_ENABLED=true", "IPND_BITCOIN_NETWORK=regtest", "IPND_BITCOIN_RPC_HOST=" + s.btc.RPCHost,
		"IPND_BITCOIN_RPC_USER=" + s.btc.User, "IPND_BITCOIN_RPC_PASSWORD=" + s.btc.Pass, "IPND_BITCOIN_XPUB=" + accountTPub(t),
		"IPND_BITCOIN_ADDRESS_TYPE=p2wpkh", "IPND_BITCOIN_POLL_INTERVAL=250ms",
	}, extraEnv...)
	s.proc = startIpnd(t, s.env, s.logs, s.apiURL)
	t.Cleanup(func() {
		s.proc.cmd.Process.Kill()
		<-s.proc.done
		if t.Failed() {
			t.Logf("ipnd logs (tail):\n%s", tail(s.logs.String(), 60))
		}
	})
	return s
}

// call sends a JSON request with the API key and decodes the answer.
func (s *opsStack) call(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	st := &stack{t: s.t, apiURL: s.apiURL, apiKey: s.apiKey}
	return st.call(method, path, body)
}

// order allocates an address with label, subscribed to r (whose secret it
// learns), and returns the address and the subscription id.
func (s *opsStack) order(r *shopReceiver, label string) (addr, sub string) {
	s.t.Helper()
	code, out := s.call("POST", "/addresses", map[string]any{"chain": "btc", "label": label, "url": r.url(), "max_confirms": 1})
	if code != 200 {
		s.t.Fatalf("POST /addresses: %d %v", code, out)
	}
	ref := out["subscription"].(map[string]any)
	r.set(fmt.Sprint(ref["secret"]), r.broken)
	return fmt.Sprint(out["address"]), fmt.Sprint(ref["id"])
}

// delivery is GET /subscriptions/{id}'s delivery.
func (s *opsStack) delivery(sub string) map[string]any {
	s.t.Helper()
	code, out := s.call("GET", "/subscriptions/"+sub, nil)
	if code != 200 {
		s.t.Fatalf("GET /subscriptions/%s: %d %v", sub, code, out)
	}
	return out["delivery"].(map[string]any)
}

// waitDelivery polls the subscription until cond holds (30 s at most).
func (s *opsStack) waitDelivery(sub, what string, cond func(d map[string]any) bool) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := s.delivery(sub)
		if cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("subscription %s: %s: not within 30 s; delivery %v", sub, what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func attempts(d map[string]any) int {
	n, _ := strconv.Atoi(fmt.Sprint(d["attempts"]))
	return n
}

func failing(d map[string]any) bool { return d["failing"] == true }

func acknowledged(d map[string]any) bool { return d["state"] == "delivered" }

// cli runs an ipnd command with the stack's environment plus env.
func (s *opsStack) cli(env []string, args ...string) (string, string, int) {
	s.t.Helper()
	return ipnd(s.t, append(append([]string{}, s.env...), env...), args...)
}

// viaAPI is the environment and flags of a command against the running API.
func (s *opsStack) viaAPI(args ...string) []string {
	return append(args, "-api", s.apiURL)
}

func (s *opsStack) keyEnv() []string { return []string{apiKeyVariable + "=" + s.apiKey} }

// wantLines checks that out has a line containing each of want, in order.
func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s: no %q (after the lines before) in\n%s", what, w, out)
			return
		}
		rest = rest[i+len(w):]
	}
}

func countLines(s string) int { return len(strings.Split(strings.TrimSpace(s), "\n")) }
