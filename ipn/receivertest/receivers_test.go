package receivertest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ipn/receivertest"
)

// received is one IPN as a test receiver parsed it.
type received struct {
	ipnID       int64
	contentType string
	userAgent   string
	headerTest  string
	bodyTest    bool
	address     string
	confirmed   string
	unconfirmed string
	changes     []receivertest.Change
	verified    bool
	body        string
}

// shop is a receiver as a shop should write one (verifies the signature with
// the endpoint's secret, refuses stale timestamps, keeps per-subscription
// totals, treats IPN-Id as the idempotency key and ignores a lower one,
// echoes the totals it holds), with flaws that can be switched on.
type shop struct {
	secret     string
	skipVerify bool // flaw: books IPNs without verifying IPN-Signature
	atomicEcho bool // flaw: echoes atomic units as confirmed/unconfirmed
	refuseOld  bool // answers 409 to a lower IPN-Id instead of echoing

	mu    sync.Mutex
	held  map[int64]holding // subscription_id -> newest IPN
	log   []received
	moves int // how often the held totals changed
}

type holding struct {
	ipnID                              int64
	address, confirmed, unconfirmed    string
	confirmedAtomic, unconfirmedAtomic string
}

func newShop(secret string) *shop { return &shop{secret: secret, held: map[int64]holding{}} }

func (s *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	verr := ipn.Verify(s.secret, r.Header.Get(ipn.HeaderSignature), body, time.Now(), 5*time.Minute)
	id, err := strconv.ParseInt(r.Header.Get(ipn.HeaderID), 10, 64)
	if err != nil {
		http.Error(w, "no IPN-Id", http.StatusBadRequest)
		return
	}
	in, sub, ok := parseIPN(r.Header.Get("Content-Type"), body)
	if !ok {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	in.ipnID, in.verified, in.body = id, verr == nil, string(body)
	in.contentType, in.userAgent, in.headerTest = r.Header.Get("Content-Type"), r.UserAgent(), r.Header.Get(receivertest.HeaderTest)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, in.received)
	if verr != nil && !s.skipVerify {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	h, seen := s.held[sub]
	switch {
	case !seen || id > h.ipnID:
		if h.confirmed != in.confirmed || h.unconfirmed != in.unconfirmed {
			s.moves++
		}
		h = holding{id, in.address, in.confirmed, in.unconfirmed, in.confirmedAtomic, in.unconfirmedAtomic}
		s.held[sub] = h
	case id < h.ipnID && s.refuseOld:
		http.Error(w, "out of date", http.StatusConflict)
		return
	}
	echo := map[string]string{"address": h.address, "confirmed": h.confirmed, "unconfirmed": h.unconfirmed}
	if s.atomicEcho {
		echo["confirmed"], echo["unconfirmed"] = h.confirmedAtomic, h.unconfirmedAtomic
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(echo)
}

func (s *shop) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.log...)
}

type parsed struct {
	received
	confirmedAtomic, unconfirmedAtomic string
}

// parseIPN reads a JSON or form body.
func parseIPN(contentType string, body []byte) (parsed, int64, bool) {
	var p parsed
	if strings.HasPrefix(contentType, ipn.ContentTypeForm) {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return p, 0, false
		}
		sub, err := strconv.ParseInt(v.Get("subscription_id"), 10, 64)
		if err != nil || json.Unmarshal([]byte(v.Get("changes")), &p.changes) != nil {
			return p, 0, false
		}
		p.address, p.confirmed, p.unconfirmed = v.Get("address"), v.Get("confirmed"), v.Get("unconfirmed")
		p.confirmedAtomic, p.unconfirmedAtomic = v.Get("confirmed_atomic"), v.Get("unconfirmed_atomic")
		p.bodyTest = v.Get("test") == "true"
		return p, sub, true
	}
	var j struct {
		SubscriptionID    int64                 `json:"subscription_id"`
		Address           string                `json:"address"`
		Confirmed         string                `json:"confirmed"`
		Unconfirmed       string                `json:"unconfirmed"`
		ConfirmedAtomic   string                `json:"confirmed_atomic"`
		UnconfirmedAtomic string                `json:"unconfirmed_atomic"`
		Changes           []receivertest.Change `json:"changes"`
		Test              bool                  `json:"test"`
	}
	if json.Unmarshal(body, &j) != nil {
		return p, 0, false
	}
	p.address, p.confirmed, p.unconfirmed = j.Address, j.Confirmed, j.Unconfirmed
	p.confirmedAtomic, p.unconfirmedAtomic, p.changes, p.bodyTest = j.ConfirmedAtomic, j.UnconfirmedAtomic, j.Changes, j.Test
	return p, j.SubscriptionID, true
}

// readmeGoReceiver is the Go receiver proposed for the README (the block
// there would hold the body of the returned function with package-level
// secret, mu and newest).
func readmeGoReceiver(secret string) http.HandlerFunc {
	type ack struct {
		id   int64
		echo map[string]string
	}
	var (
		mu     sync.Mutex
		newest = map[int64]ack{} // subscription_id -> highest IPN-Id and its totals; keep it in your database
	)
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		// ipn.Verify accepts either v1 while ipnd rotates the endpoint's secret
		if ipn.Verify(secret, r.Header.Get("IPN-Signature"), body, time.Now(), 5*time.Minute) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n struct {
			SubscriptionID                  int64 `json:"subscription_id"`
			Address, Confirmed, Unconfirmed string
			Test                            bool // sent by ipnd test-receiver: never credit an order
		}
		id, err := strconv.ParseInt(r.Header.Get("IPN-Id"), 10, 64)
		if err != nil || json.Unmarshal(body, &n) != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if last, seen := newest[n.SubscriptionID]; !seen || id >= last.id { // a lower IPN-Id is out of date
			// unless n.Test, record n.Confirmed / n.Unconfirmed for n.Address
			newest[n.SubscriptionID] = ack{id, map[string]string{
				"address": n.Address, "confirmed": n.Confirmed, "unconfirmed": n.Unconfirmed}}
		}
		json.NewEncoder(w).Encode(newest[n.SubscriptionID].echo) // echo the totals you hold
	}
}
