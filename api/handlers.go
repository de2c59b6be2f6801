package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Field limits.
const (
	maxAddressLen = 256
	maxURLLen     = 2048
	maxLabelLen   = 200
	// MaxConfirmsLimit is the highest max_confirms accepted.
	MaxConfirmsLimit = 1000
	// attemptsShown is how many delivery attempts GET /subscriptions/{id} lists.
	attemptsShown = 10
)

//go:embed openapi.json
var openAPISpec []byte

// OpenAPI returns the API's OpenAPI 3 description (JSON).
func OpenAPI() []byte { return append([]byte(nil), openAPISpec...) }

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode answer", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers err: an *Error as given; an adapter's rejection as
// 400/409; anything else (the ledger or a node is down) as 503 without
// details, which are logged. plain answers the text "fail" (/btc_ipn) with
// the reason in the X-Ipnd-Error header.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, plain bool, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			e = &Error{Status: 499, Message: "request cancelled"}
		} else {
			s.log.Warn("request failed", "route", r.Pattern, "method", r.Method, "err", err)
			e = &Error{Status: http.StatusServiceUnavailable, Message: "temporarily unavailable; try again later"}
		}
	}
	if plain {
		msg := e.Message
		if e.Field != "" {
			msg = e.Field + ": " + msg
		}
		h := w.Header()
		h.Set("X-Ipnd-Error", strings.Map(func(r rune) rune {
			if r < 0x20 || r >= 0x7f {
				return '?'
			}
			return r
		}, msg))
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(e.Status)
		_, _ = w.Write([]byte("fail"))
		return
	}
	body := map[string]string{"error": e.Message}
	if e.Field != "" {
		body["field"] = e.Field
	}
	s.writeJSON(w, e.Status, body)
}

// adapterError turns an adapter's error into an answer about field.
func adapterError(field string, err error) error {
	switch {
	case errors.Is(err, ledger.ErrIndexTaken), errors.Is(err, ledger.ErrAddressTaken):
		return &Error{Status: http.StatusConflict, Field: field, Message: err.Error()}
	case errors.Is(err, ErrRejected):
		return badField(field, "%s", strings.TrimPrefix(err.Error(), ErrRejected.Error()+": "))
	}
	return err
}

// enabled resolves a chain name to an enabled chain.
func (s *Server) enabled(field, name string) (chains.Chain, error) {
	c, err := chains.ParseChain(name)
	if err != nil {
		return "", badField(field, "unknown chain %q; use btc or xmr", name)
	}
	if _, ok := s.o.Chains[c]; !ok {
		return "", badField(field, "chain %s is not enabled on this server", c)
	}
	return c, nil
}

// chainOf recognises the chain of addr (or checks it against the chain
// the request names).
func (s *Server) chainOf(p *params, addr string) (chains.Chain, error) {
	name, named, err := p.str("chain", 16)
	if err != nil {
		return "", err
	}
	if named {
		c, err := s.enabled("chain", name)
		if err != nil {
			return "", err
		}
		if err := s.o.Chains[c].Validate(addr); err != nil {
			return "", badField("address", "not a valid %s address for this server's network: %v", c, err)
		}
		return c, nil
	}
	for _, c := range s.order {
		if s.o.Chains[c].Validate(addr) == nil {
			return c, nil
		}
	}
	names := make([]string, len(s.order))
	for i, c := range s.order {
		names[i] = string(c)
	}
	return "", badField("address", "not a valid address of an enabled chain (%s) on this server's network", strings.Join(names, ", "))
}

func (s *Server) maxConfirms(p *params) (int, error) {
	n, ok, err := p.uint("max_confirms", 0, MaxConfirmsLimit)
	if err != nil {
		return 0, err
	}
	if !ok {
		return s.o.IPN.MaxConfirms, nil
	}
	return int(n), nil
}

// balanceTarget finds the address a balance request is about: address, or
// chain + index (a Bitcoin derivation index).
func (s *Server) balanceTarget(ctx context.Context, p *params) (chains.Chain, string, error) {
	addr, hasAddr, err := p.str("address", maxAddressLen)
	if err != nil {
		return "", "", err
	}
	idx, hasIdx, err := p.uint("index", 0, ledger.MaxDerivationIndex)
	if err != nil {
		return "", "", err
	}
	if hasAddr {
		if hasIdx {
			return "", "", badField("index", "give address or chain and index, not both")
		}
		c, err := s.chainOf(p, addr)
		return c, addr, err
	}
	name, named, err := p.str("chain", 16)
	if err != nil {
		return "", "", err
	}
	if !named || !hasIdx {
		return "", "", badField("address", "required (or chain and index)")
	}
	c, err := s.enabled("chain", name)
	if err != nil {
		return "", "", err
	}
	if spec, _ := c.Spec(); !spec.DerivationIndexes {
		return "", "", badField("index", "lookup by index is for Bitcoin derivation indexes; give the %s address", c)
	}
	a, err := s.o.Ledger.AddressByIndex(ctx, c, uint32(idx))
	if errors.Is(err, ledger.ErrNotFound) {
		return "", "", &Error{Status: http.StatusNotFound, Field: "index", Message: fmt.Sprintf("no %s address is allocated at index %d", c, idx)}
	}
	if err != nil {
		return "", "", err
	}
	return c, a.Address, nil
}

type txJSON struct {
	TxID          string `json:"txid"`
	OutIndex      uint32 `json:"out_index"`
	Amount        string `json:"amount"`
	AmountAtomic  string `json:"amount_atomic"`
	Confirmations int64  `json:"confirmations"`
	Height        int64  `json:"height,omitempty"`
	Status        string `json:"status"`
	CountsAs      string `json:"counts_as"` // confirmed, unconfirmed or none
	FirstSeen     string `json:"first_seen,omitempty"`
}

type balanceJSON struct {
	Chain             chains.Chain `json:"chain"`
	Address           string       `json:"address"`
	Confirmed         string       `json:"confirmed"`
	Unconfirmed       string       `json:"unconfirmed"`
	ConfirmedAtomic   string       `json:"confirmed_atomic"`
	UnconfirmedAtomic string       `json:"unconfirmed_atomic"`
	MaxConfirms       int          `json:"max_confirms"`
	Height            int64        `json:"height"`
	Transactions      []txJSON     `json:"transactions"`
}

func notWatched(c chains.Chain) *Error {
	return &Error{Status: http.StatusNotFound, Field: "address", Message: fmt.Sprintf(
		"a valid %s address, but this server does not watch it; subscribe to it (POST /subscribe) or allocate addresses with POST /addresses", c)}
}

func (s *Server) balance(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	c, addr, err := s.balanceTarget(ctx, p)
	if err != nil {
		return err
	}
	mc, err := s.maxConfirms(p)
	if err != nil {
		return err
	}
	t, ds, err := s.o.Ledger.Balance(ctx, c, addr, mc)
	if errors.Is(err, ledger.ErrNotFound) {
		return notWatched(c)
	}
	if err != nil {
		return err
	}
	now := s.o.Now()
	out := balanceJSON{
		Chain: c, Address: addr, MaxConfirms: mc, Height: t.Height,
		Confirmed: c.FormatAmount(t.Confirmed), Unconfirmed: c.FormatAmount(t.Unconfirmed),
		ConfirmedAtomic: strconv.FormatUint(t.Confirmed, 10), UnconfirmedAtomic: strconv.FormatUint(t.Unconfirmed, 10),
		Transactions: make([]txJSON, 0, len(ds)),
	}
	for _, d := range ds {
		as := "none"
		switch {
		case !d.Counts():
		case d.IsConfirmed(t.Height, mc, now):
			as = "confirmed"
		default:
			as = "unconfirmed"
		}
		out.Transactions = append(out.Transactions, txJSON{
			TxID: d.TxID, OutIndex: d.OutIndex, Amount: c.FormatAmount(d.Amount), AmountAtomic: strconv.FormatUint(d.Amount, 10),
			Confirmations: d.Confirmations(t.Height), Height: d.Height, Status: d.Status, CountsAs: as, FirstSeen: stamp(d.FirstSeen),
		})
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// subscriberURL reads and checks the url field.
func (s *Server) subscriberURL(ctx context.Context, p *params, required bool) (string, error) {
	raw, ok, err := p.str("url", maxURLLen)
	if err != nil {
		return "", err
	}
	if !ok {
		if required {
			return "", badField("url", "required")
		}
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", badField("url", "must be an http or https URL")
	}
	if u.User != nil {
		return "", badField("url", "must not carry a user name or password")
	}
	if err := s.o.CheckURL(ctx, raw, s.o.IPN.AllowPrivateTargets); err != nil {
		return "", badField("url", "not allowed: %v", err)
	}
	return raw, nil
}

func format(p *params) (string, error) {
	f, ok, err := p.str("format", 16)
	if err != nil || !ok {
		return "json", err
	}
	f = strings.ToLower(f)
	if f != "json" && f != "form" {
		return "", badField("format", "must be json or form")
	}
	return f, nil
}

// subscribeTo starts watching addr if needed and subscribes url to it.
func (s *Server) subscribeTo(ctx context.Context, c chains.Chain, addr, rawURL string, mc int, format string) (ledger.Subscription, bool, error) {
	if _, err := s.o.Ledger.AddressByString(ctx, c, addr); errors.Is(err, ledger.ErrNotFound) {
		if _, err := s.o.Chains[c].Watch(ctx, addr); err != nil {
			return ledger.Subscription{}, false, adapterError("address", err)
		}
	} else if err != nil {
		return ledger.Subscription{}, false, err
	}
	secret, err := s.o.NewSecret()
	if err != nil {
		return ledger.Subscription{}, false, err
	}
	sub, created, err := s.o.Ledger.Subscribe(ctx, c, addr, rawURL, mc, format, secret)
	if err != nil {
		return ledger.Subscription{}, false, err
	}
	s.o.Notify()
	s.log.Info("subscription saved", "subscription", sub.ID, "chain", c, "created", created, "max_confirms", mc)
	return sub, created, nil
}

type subscribedJSON struct {
	Status      string       `json:"status"`
	ID          int64        `json:"id"`
	Secret      string       `json:"secret"`
	Created     bool         `json:"created"`
	Chain       chains.Chain `json:"chain"`
	Address     string       `json:"address"`
	URL         string       `json:"url"`
	MaxConfirms int          `json:"max_confirms"`
	Format      string       `json:"format"`
}

// subscription request fields common to /subscribe and /btc_ipn.
func (s *Server) subscribeParams(r *http.Request, p *params, only chains.Chain) (c chains.Chain, addr, rawURL string, mc int, err error) {
	addr, ok, err := p.str("address", maxAddressLen)
	if err != nil {
		return
	}
	if !ok {
		err = badField("address", "required")
		return
	}
	if only != "" {
		a, enabled := s.o.Chains[only]
		if !enabled {
			err = badField("address", "chain %s is not enabled on this server", only)
			return
		}
		if verr := a.Validate(addr); verr != nil {
			err = badField("address", "not a valid %s address for this server's network: %v", only, verr)
			return
		}
		c = only
	} else if c, err = s.chainOf(p, addr); err != nil {
		return
	}
	if mc, err = s.maxConfirms(p); err != nil {
		return
	}
	rawURL, err = s.subscriberURL(r.Context(), p, true)
	return
}

func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	c, addr, rawURL, mc, err := s.subscribeParams(r, p, "")
	if err != nil {
		return err
	}
	f, err := format(p)
	if err != nil {
		return err
	}
	sub, created, err := s.subscribeTo(r.Context(), c, addr, rawURL, mc, f)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, subscribedJSON{Status: "success", ID: sub.ID, Secret: sub.Secret, Created: created,
		Chain: c, Address: sub.Address, URL: sub.URL, MaxConfirms: sub.MaxConfirms, Format: sub.Format})
	return nil
}

func pathID(r *http.Request) (int64, error) {
	v := r.PathValue("id")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || !allDigits(v) {
		return 0, badField("id", "must be a positive integer subscription id")
	}
	return n, nil
}

func noSubscription(id int64) *Error {
	return &Error{Status: http.StatusNotFound, Field: "id", Message: fmt.Sprintf("no active subscription %d", id)}
}

func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.o.Ledger.Unsubscribe(r.Context(), id); errors.Is(err, ledger.ErrNotFound) {
		return noSubscription(id)
	} else if err != nil {
		return err
	}
	s.log.Info("subscription ended", "subscription", id)
	s.writeJSON(w, http.StatusOK, map[string]any{"status": "success", "id": id})
	return nil
}

type deliveryJSON struct {
	State             string `json:"state"` // of the newest notification; "none" before the first
	NotificationID    int64  `json:"notification_id,omitempty"`
	Confirmed         string `json:"confirmed,omitempty"`
	Unconfirmed       string `json:"unconfirmed,omitempty"`
	ConfirmedAtomic   string `json:"confirmed_atomic,omitempty"`
	UnconfirmedAtomic string `json:"unconfirmed_atomic,omitempty"`
	Height            int64  `json:"height,omitempty"`
	Attempts          int    `json:"attempts"`
	NextAttemptAt     string `json:"next_attempt_at,omitempty"`
	LastStatus        int    `json:"last_status,omitempty"`
	LastError         string `json:"last_error,omitempty"`
	CreatedAt         string `json:"created_at,omitempty"`
	DeliveredAt       string `json:"delivered_at,omitempty"`
}

type attemptJSON struct {
	At             string  `json:"at"`
	NotificationID int64   `json:"notification_id"`
	Status         int     `json:"status"`
	Error          string  `json:"error,omitempty"`
	Delivered      bool    `json:"delivered"`
	DurationMS     float64 `json:"duration_ms"`
}

type subscriptionJSON struct {
	ID                    int64         `json:"id"`
	Chain                 chains.Chain  `json:"chain"`
	Address               string        `json:"address"`
	URL                   string        `json:"url"`
	MaxConfirms           int           `json:"max_confirms"`
	Format                string        `json:"format"`
	Active                bool          `json:"active"`
	LastConfirmed         string        `json:"last_confirmed"`
	LastUnconfirmed       string        `json:"last_unconfirmed"`
	LastConfirmedAtomic   string        `json:"last_confirmed_atomic"`
	LastUnconfirmedAtomic string        `json:"last_unconfirmed_atomic"`
	CreatedAt             string        `json:"created_at"`
	UpdatedAt             string        `json:"updated_at"`
	Delivery              deliveryJSON  `json:"delivery"`
	Attempts              []attemptJSON `json:"attempts"`
}

func (s *Server) subscription(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	sub, err := s.o.Ledger.Subscription(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Field: "id", Message: fmt.Sprintf("no subscription %d", id)}
	}
	if err != nil {
		return err
	}
	notes, err := s.o.Ledger.Notifications(ctx, id, 1)
	if err != nil {
		return err
	}
	atts, err := s.o.Ledger.Attempts(ctx, id, attemptsShown)
	if err != nil {
		return err
	}
	c := sub.Chain
	out := subscriptionJSON{
		ID: sub.ID, Chain: c, Address: sub.Address, URL: sub.URL, MaxConfirms: sub.MaxConfirms, Format: sub.Format,
		Active: sub.Active, LastConfirmed: c.FormatAmount(sub.LastConfirmed), LastUnconfirmed: c.FormatAmount(sub.LastUnconfirmed),
		LastConfirmedAtomic: strconv.FormatUint(sub.LastConfirmed, 10), LastUnconfirmedAtomic: strconv.FormatUint(sub.LastUnconfirmed, 10),
		CreatedAt: stamp(sub.CreatedAt), UpdatedAt: stamp(sub.UpdatedAt),
		Delivery: deliveryJSON{State: "none"}, Attempts: make([]attemptJSON, 0, len(atts)),
	}
	if len(notes) > 0 {
		n := notes[0]
		out.Delivery = deliveryJSON{State: n.State, NotificationID: n.ID,
			Confirmed: c.FormatAmount(n.Confirmed), Unconfirmed: c.FormatAmount(n.Unconfirmed),
			ConfirmedAtomic: strconv.FormatUint(n.Confirmed, 10), UnconfirmedAtomic: strconv.FormatUint(n.Unconfirmed, 10),
			Height: n.Height, Attempts: n.Attempts, LastStatus: n.LastStatus, LastError: n.LastError,
			CreatedAt: stamp(n.CreatedAt), DeliveredAt: stamp(n.DeliveredAt)}
		if n.State == ledger.NotePending {
			out.Delivery.NextAttemptAt = stamp(n.NextAttemptAt)
		}
	}
	for _, a := range atts {
		out.Attempts = append(out.Attempts, attemptJSON{At: stamp(a.At), NotificationID: a.NotificationID, Status: a.Status,
			Error: a.Error, Delivered: a.Delivered, DurationMS: float64(a.Duration.Microseconds()) / 1000})
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	n, err := s.o.Ledger.Redeliver(r.Context(), id)
	if errors.Is(err, ledger.ErrNotFound) {
		return noSubscription(id)
	}
	if err != nil {
		return err
	}
	s.o.Notify()
	s.log.Info("redelivery requested", "subscription", id, "notification", n.ID)
	c := n.Chain
	s.writeJSON(w, http.StatusOK, map[string]any{
		"status": "success", "id": id, "notification_id": n.ID,
		"confirmed": c.FormatAmount(n.Confirmed), "unconfirmed": c.FormatAmount(n.Unconfirmed),
		"confirmed_atomic": strconv.FormatUint(n.Confirmed, 10), "unconfirmed_atomic": strconv.FormatUint(n.Unconfirmed, 10),
		"height": n.Height,
	})
	return nil
}

type subRefJSON struct {
	ID          int64  `json:"id"`
	Secret      string `json:"secret"`
	Created     bool   `json:"created"`
	URL         string `json:"url"`
	MaxConfirms int    `json:"max_confirms"`
	Format      string `json:"format"`
}

type addressJSON struct {
	Chain           chains.Chain `json:"chain"`
	Address         string       `json:"address"`
	Index           *uint32      `json:"index,omitempty"`
	AccountIndex    *uint32      `json:"account_index,omitempty"`
	SubaddressIndex *uint32      `json:"subaddress_index,omitempty"`
	Label           string       `json:"label,omitempty"`
	URI             string       `json:"uri"`
	Amount          string       `json:"amount,omitempty"`
	AmountAtomic    string       `json:"amount_atomic,omitempty"`
	Subscription    *subRefJSON  `json:"subscription,omitempty"`
}

func (s *Server) addresses(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	name, ok, err := p.str("chain", 16)
	if err != nil {
		return err
	}
	if !ok {
		return badField("chain", "required (btc or xmr)")
	}
	c, err := s.enabled("chain", name)
	if err != nil {
		return err
	}
	idx, hasIdx, err := p.uint("index", 0, ledger.MaxDerivationIndex)
	if err != nil {
		return err
	}
	if spec, _ := c.Spec(); hasIdx && !spec.DerivationIndexes {
		return badField("index", "fixed indexes are for Bitcoin only; %s addresses are allocated in order", c)
	}
	label, _, err := p.str("label", maxLabelLen)
	if err != nil {
		return err
	}
	amount, hasAmount, err := p.amount("amount", c)
	if err != nil {
		return err
	}
	rawURL, err := s.subscriberURL(ctx, p, false)
	if err != nil {
		return err
	}
	mc, err := s.maxConfirms(p)
	if err != nil {
		return err
	}
	f, err := format(p)
	if err != nil {
		return err
	}
	var a chains.Address
	if hasIdx {
		a, err = s.o.Chains[c].AddressAt(ctx, uint32(idx), label)
		err = adapterError("index", err)
	} else {
		a, err = s.o.Chains[c].Allocate(ctx, label)
		err = adapterError("chain", err)
	}
	if err != nil {
		return err
	}
	// Each chain fills in the indexes it has (Bitcoin the derivation index,
	// Monero account and subaddress); the others stay nil and are omitted.
	out := addressJSON{Chain: c, Address: a.Address, Label: a.Label, URI: PaymentURI(c, a.Address, amount),
		Index: a.DerivationIndex, AccountIndex: a.AccountIndex, SubaddressIndex: a.SubaddressIndex}
	if hasAmount && amount > 0 {
		out.Amount, out.AmountAtomic = shortAmount(c, amount), strconv.FormatUint(amount, 10)
	}
	s.log.Info("address handed out", "chain", c, "index", idxLog(a))
	if rawURL != "" {
		sub, created, err := s.subscribeTo(ctx, c, a.Address, rawURL, mc, f)
		if err != nil {
			return err
		}
		out.Subscription = &subRefJSON{ID: sub.ID, Secret: sub.Secret, Created: created, URL: sub.URL,
			MaxConfirms: sub.MaxConfirms, Format: sub.Format}
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func idxLog(a chains.Address) int64 {
	switch {
	case a.DerivationIndex != nil:
		return int64(*a.DerivationIndex)
	case a.SubaddressIndex != nil:
		return int64(*a.SubaddressIndex)
	}
	return -1
}

// btc is the original service's balance endpoint: {"confirmed": 0.1,
// "unconfirmed": 0.2} with the amounts as exact JSON numbers in BTC.
func (s *Server) btc(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	addr, ok, err := p.str("address", maxAddressLen)
	if err != nil {
		return err
	}
	if !ok {
		return badField("address", "required")
	}
	a, enabled := s.o.Chains[chains.BTC]
	if !enabled {
		return badField("address", "bitcoin is not enabled on this server")
	}
	if err := a.Validate(addr); err != nil {
		return badField("address", "not a valid bitcoin address for this server's network: %v", err)
	}
	mc, err := s.maxConfirms(p)
	if err != nil {
		return err
	}
	t, _, err := s.o.Ledger.Balance(r.Context(), chains.BTC, addr, mc)
	if errors.Is(err, ledger.ErrNotFound) {
		return notWatched(chains.BTC)
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, struct {
		Confirmed   json.RawMessage `json:"confirmed"`
		Unconfirmed json.RawMessage `json:"unconfirmed"`
	}{jsonAmount(chains.BTC, t.Confirmed), jsonAmount(chains.BTC, t.Unconfirmed)})
	return nil
}

// btcIPN is the original service's subscription endpoint: plain "success"
// or "fail". Its receivers expect form-encoded IPNs.
func (s *Server) btcIPN(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	c, addr, rawURL, mc, err := s.subscribeParams(r, p, chains.BTC)
	if err != nil {
		return err
	}
	if _, _, err := s.subscribeTo(r.Context(), c, addr, rawURL, mc, "form"); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("success"))
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

type chainReadyJSON struct {
	State      chains.SyncState `json:"state"`
	Ready      bool             `json:"ready"`
	Height     int64            `json:"height"`
	NodeHeight int64            `json:"node_height"`
	Behind     int64            `json:"behind"`
}

// readyz: the ledger answers and every enabled chain is synced. Error
// texts are logged, not shown (the endpoint needs no key).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	ready := true
	ledger := map[string]any{"ready": true}
	if err := s.o.Ledger.Ping(ctx); err != nil {
		ready = false
		ledger["ready"] = false
		s.log.Warn("readiness: ledger unreachable", "err", err)
	}
	cs := map[chains.Chain]chainReadyJSON{}
	for _, st := range s.statuses() {
		ok := st.State == chains.Synced
		if !ok {
			ready = false
			if st.Error != "" {
				s.log.Debug("readiness: chain not ready", "chain", st.Chain, "state", st.State, "err", st.Error)
			}
		}
		cs[st.Chain] = chainReadyJSON{State: st.State, Ready: ok, Height: st.Height, NodeHeight: st.NodeHeight, Behind: st.Behind}
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	s.writeJSON(w, status, map[string]any{"ready": ready, "ledger": ledger, "chains": cs})
	return nil
}

func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request) error {
	s.metricsHandler.ServeHTTP(w, r)
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openAPISpec)
	return nil
}
