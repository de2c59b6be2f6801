package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ipn"
)

// receiver is the merchant's IPN endpoint: it verifies each notification's
// IPN-Signature with the subscription's secret (answered when the invoice
// was created), prints it, and acknowledges it by echoing address,
// confirmed and unconfirmed.
type receiver struct {
	con *console
	srv *http.Server
	URL string // http://127.0.0.1:port/ipn

	mu       sync.Mutex
	secrets  map[int64]string // subscription id -> secret
	seen     map[int64][]totals
	invoices map[int64][]string // subscription id -> the invoice status of each IPN
	count    int
	badSig   int
}

// totals are the atomic-unit totals of one acknowledged IPN.
type totals struct {
	Confirmed, Unconfirmed uint64
}

// notification is the JSON body ipnd posts. Amounts are decimal strings;
// no float ever holds one.
type notification struct {
	ID                int64  `json:"id"`
	SubscriptionID    int64  `json:"subscription_id"`
	Chain             string `json:"chain"`
	Address           string `json:"address"`
	Confirmed         string `json:"confirmed"`
	Unconfirmed       string `json:"unconfirmed"`
	ConfirmedAtomic   string `json:"confirmed_atomic"`
	UnconfirmedAtomic string `json:"unconfirmed_atomic"`
	MaxConfirms       int    `json:"max_confirms"`
	Height            int64  `json:"height"`
	// Invoice is the block of a subscription made with an invoice.
	Invoice *struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		DueAtomic string `json:"due_atomic"`
	} `json:"invoice"`
}

func startReceiver(con *console) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	r := &receiver{con: con, secrets: map[int64]string{}, seen: map[int64][]totals{}, invoices: map[int64][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ipn", r.serve)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	r.URL = "http://" + ln.Addr().String() + "/ipn"
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}

// expect registers the secret of a subscription.
func (r *receiver) expect(sub int64, secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets[sub] = secret
}

// secret waits briefly for a subscription's secret: an IPN may arrive
// before the answer that created the subscription was read.
func (r *receiver) secret(ctx context.Context, sub int64) (string, bool) {
	for i := 0; ; i++ {
		r.mu.Lock()
		s, ok := r.secrets[sub]
		r.mu.Unlock()
		if ok || i == 40 {
			return s, ok
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		r.reject(w, "body is not an IPN", http.StatusBadRequest)
		return
	}
	secret, ok := r.secret(req.Context(), n.SubscriptionID)
	if !ok {
		r.reject(w, fmt.Sprintf("IPN for unknown subscription %d", n.SubscriptionID), http.StatusUnauthorized)
		return
	}
	if err := ipn.Verify(secret, req.Header.Get(ipn.HeaderSignature), body, time.Now(), ipn.DefaultSignatureWindow); err != nil {
		r.reject(w, fmt.Sprintf("IPN %d rejected: %v", n.ID, err), http.StatusUnauthorized)
		return
	}
	t, err := n.totals()
	if err != nil {
		r.reject(w, fmt.Sprintf("IPN %d: %v", n.ID, err), http.StatusBadRequest)
		return
	}
	c := chains.Chain(n.Chain)
	state := "unconfirmed"
	if t.Unconfirmed == 0 && t.Confirmed > 0 {
		state = "confirmed"
	}
	inv := ""
	r.mu.Lock()
	r.seen[n.SubscriptionID] = append(r.seen[n.SubscriptionID], t)
	if n.Invoice != nil {
		r.invoices[n.SubscriptionID] = append(r.invoices[n.SubscriptionID], n.Invoice.Status)
		inv = fmt.Sprintf("; invoice %s %s", n.Invoice.ID, n.Invoice.Status)
	}
	r.count++
	r.mu.Unlock()
	r.con.say("IPN      %s %s: confirmed %s, unconfirmed %s (%s; height %d, IPN-Id %s, attempt %s%s) signature ok, echoed",
		unit(c), short(n.Address), n.Confirmed, n.Unconfirmed, state, n.Height,
		req.Header.Get(ipn.HeaderID), req.Header.Get(ipn.HeaderAttempt), inv)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"address": n.Address, "confirmed": n.Confirmed, "unconfirmed": n.Unconfirmed})
}

func (r *receiver) reject(w http.ResponseWriter, why string, status int) {
	r.mu.Lock()
	r.badSig++
	r.mu.Unlock()
	r.con.say("receiver: %s (answered %d: ipnd will retry)", why, status)
	http.Error(w, why, status)
}

func (n notification) totals() (totals, error) {
	c, err1 := strconv.ParseUint(n.ConfirmedAtomic, 10, 64)
	u, err2 := strconv.ParseUint(n.UnconfirmedAtomic, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return totals{}, fmt.Errorf("bad atomic amounts: %w", err)
	}
	return totals{Confirmed: c, Unconfirmed: u}, nil
}

// acknowledged returns every IPN of sub the receiver acknowledged, in order.
func (r *receiver) acknowledged(sub int64) []totals {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]totals(nil), r.seen[sub]...)
}

// statuses returns the invoice status of every IPN of sub the receiver
// acknowledged, in order.
func (r *receiver) statuses(sub int64) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.invoices[sub]...)
}

// wait waits until the last IPN of sub acknowledged want.
func (r *receiver) wait(ctx context.Context, sub int64, want totals, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		seen := r.acknowledged(sub)
		if len(seen) > 0 && seen[len(seen)-1] == want {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("subscription %d: no IPN with confirmed %d, unconfirmed %d (atomic units) within %s; got %v",
					sub, want.Confirmed, want.Unconfirmed, within, seen)
			}
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
