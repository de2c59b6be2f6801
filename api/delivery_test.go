package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// shop is a receiver that verifies with the secrets it is given, echoes,
// and can be down (503).
type shop struct {
	srv     *httptest.Server
	down    atomic.Bool
	mu      sync.Mutex
	secrets []string
	got     []shopIPN
}

type shopIPN struct {
	header http.Header
	body   []byte
}

func newShop(t *testing.T) *shop {
	s := &shop{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if s.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		secrets := append([]string(nil), s.secrets...)
		s.got = append(s.got, shopIPN{r.Header.Clone(), body})
		s.mu.Unlock()
		for _, sec := range secrets {
			if ipn.Verify(sec, r.Header.Get(ipn.HeaderSignature), body, time.Now(), 0) != nil {
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
		}
		var n map[string]any
		json.Unmarshal(body, &n)
		json.NewEncoder(w).Encode(map[string]any{"address": n["address"], "confirmed": n["confirmed"], "unconfirmed": n["unconfirmed"]})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *shop) received() []shopIPN {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]shopIPN(nil), s.got...)
}

// TestDeliveryThroughTheAPI: subscriptions made over HTTP share their URL's
// secret; a receiver that was down is caught up at once when it answers
// again (a redelivery ends one back-off, its acknowledgement ends the
// other's); after POST /endpoints/rotate each IPN verifies with the new
// and the old secret; IPN bodies carry their changes. All through the
// HTTP API, the real ledger and IPN worker and a real receiver.
func TestDeliveryThroughTheAPI(t *testing.T) {
	h := newHarness(t, harnessOpts{driver: "mysql", allowPrivate: true})
	sh := newShop(t)
	url := sh.srv.URL + "/ipn"
	var addrs []string
	var ids []int64
	var secret string
	for range 2 {
		m := wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "btc", "url": url, "max_confirms": 1}))
		sub := m["subscription"].(map[string]any)
		if secret != "" && sub["secret"] != secret {
			t.Fatalf("two subscriptions to one URL: secrets %v and %v", secret, sub["secret"])
		}
		secret = sub["secret"].(string)
		addrs = append(addrs, m["address"].(string))
		ids = append(ids, mustInt(t, sub["id"]))
	}
	sh.mu.Lock()
	sh.secrets = []string{secret}
	sh.mu.Unlock()
	w := ipn.NewWorker(h.l, ipn.Options{Workers: 4, PerHost: 4, Timeout: 5 * time.Second, PollInterval: 50 * time.Millisecond,
		RetrySchedule: []time.Duration{time.Hour}, AllowPrivate: true, Version: "test"})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })

	state := func(id int64) ledger.Notification {
		ns, err := h.l.Notifications(context.Background(), id, 1)
		if err != nil || len(ns) == 0 {
			t.Fatalf("notifications of %d: %v", id, err)
		}
		return ns[0]
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second) // the back-off is an hour
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	sh.down.Store(true)
	h.mempool(chains.BTC, pay("t1", addrs[0], 1000), pay("t2", addrs[1], 2000))
	w.Notify()
	waitUntil("both attempts failed", func() bool { return state(ids[0]).Attempts == 1 && state(ids[1]).Attempts == 1 })
	sh.down.Store(false)
	wantOK(t, h.send("POST", "/subscriptions/"+itoa(ids[0])+"/redeliver", "", nil))
	w.Notify()
	waitUntil("the redelivered IPN acknowledged", func() bool { return state(ids[0]).State == ledger.NoteDelivered })
	waitUntil("the other subscription caught up", func() bool { return state(ids[1]).State == ledger.NoteDelivered })

	m := wantOK(t, h.postJSON("/endpoints/rotate", map[string]any{"url": url}))
	rotated := m["secret"].(string)
	if rotated == secret || m["subscriptions"] != json.Number("2") {
		t.Fatalf("rotate: %v", m)
	}
	sh.mu.Lock()
	sh.secrets = []string{rotated, secret} // the receiver checks that both verify
	sh.mu.Unlock()
	h.mine(chains.BTC, pay("t1", addrs[0], 1000))
	w.Notify()
	waitUntil("the confirmation acknowledged", func() bool {
		n := state(ids[0])
		return n.State == ledger.NoteDelivered && n.Confirmed == 1000
	})
	var last shopIPN
	for _, r := range sh.received() {
		if strings.Contains(string(r.body), `"confirmed":"0.00001000"`) {
			last = r
		}
	}
	if n := strings.Count(last.header.Get(ipn.HeaderSignature), "v1="); n != 2 {
		t.Fatalf("IPN-Signature during the rotation %q: want two v1", last.header.Get(ipn.HeaderSignature))
	}
	if !strings.Contains(string(last.body), `"changes":[{"txid":"t1","amount":"0.00001000","amount_atomic":"1000","from":"unconfirmed","to":"confirmed","reason":"confirmed"}]`) {
		t.Fatalf("IPN body without the confirmation's change: %s", last.body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
