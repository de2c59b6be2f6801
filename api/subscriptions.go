package api

// POST /subscribe, DELETE /subscribe/{id}, GET /subscriptions/{id} and
// POST /subscriptions/{id}/redeliver.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/internal/weburl"
	"github.com/ipnd/ipnd/ledger"
)

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
	if weburl.HasCredentials(raw) {
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

// SubscriptionFields are a subscription as every endpoint shows it: the
// answers of POST /subscribe and POST /addresses with a url, the items of
// GET /subscriptions and GET /subscriptions/{id} all carry these fields,
// plus what is particular to each (the secret when subscribing, the
// delivery in the lists, the attempts of one).
type SubscriptionFields struct {
	ID          int64        `json:"id"`
	Chain       chains.Chain `json:"chain"`
	Address     string       `json:"address"`
	Label       string       `json:"label"`
	URL         string       `json:"url"`
	MaxConfirms int          `json:"max_confirms"`
	Format      string       `json:"format"`
	Active      bool         `json:"active"`
	CreatedAt   string       `json:"created_at"`
}

func subscriptionFields(sub ledger.Subscription) SubscriptionFields {
	return SubscriptionFields{ID: sub.ID, Chain: sub.Chain, Address: sub.Address, Label: sub.Label, URL: sub.URL,
		MaxConfirms: sub.MaxConfirms, Format: sub.Format, Active: sub.Active, CreatedAt: stamp(sub.CreatedAt)}
}

// subscribedJSON answers a subscription request: the subscription, the
// endpoint's signing secret and whether the subscription is new.
type subscribedJSON struct {
	SubscriptionFields
	Secret  string `json:"secret"`
	Created bool   `json:"created"`
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
		c = only
		if addr, err = s.canonical(only, addr); err != nil {
			return
		}
	} else if c, addr, err = s.chainOf(p, addr); err != nil {
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
	sub.Chain = c
	s.writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		subscribedJSON
	}{"success", subscribedJSON{Secret: sub.Secret, Created: created, SubscriptionFields: subscriptionFields(sub)}})
	return nil
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

// Delivery is where a subscription's newest notification stands.
type Delivery struct {
	State string `json:"state"` // of the newest notification; "none" before the first
	// Failing: given up, or pending after a failed attempt.
	Failing           bool   `json:"failing"`
	NotificationID    int64  `json:"notification_id,omitempty"`
	Confirmed         string `json:"confirmed,omitempty"`
	Unconfirmed       string `json:"unconfirmed,omitempty"`
	ConfirmedAtomic   string `json:"confirmed_atomic,omitempty"`
	UnconfirmedAtomic string `json:"unconfirmed_atomic,omitempty"`
	Height            int64  `json:"height,omitempty"`
	Attempts          int    `json:"attempts"`
	LastAttemptAt     string `json:"last_attempt_at,omitempty"`
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
	SubscriptionFields
	LastConfirmed         string        `json:"last_confirmed"`
	LastUnconfirmed       string        `json:"last_unconfirmed"`
	LastConfirmedAtomic   string        `json:"last_confirmed_atomic"`
	LastUnconfirmedAtomic string        `json:"last_unconfirmed_atomic"`
	UpdatedAt             string        `json:"updated_at"`
	Delivery              Delivery      `json:"delivery"`
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
		SubscriptionFields: subscriptionFields(sub),
		LastConfirmed:      c.FormatAmount(sub.LastConfirmed), LastUnconfirmed: c.FormatAmount(sub.LastUnconfirmed),
		LastConfirmedAtomic: strconv.FormatUint(sub.LastConfirmed, 10), LastUnconfirmedAtomic: strconv.FormatUint(sub.LastUnconfirmed, 10),
		UpdatedAt: stamp(sub.UpdatedAt),
		Delivery:  Delivery{State: "none"}, Attempts: make([]attemptJSON, 0, len(atts)),
	}
	if len(notes) > 0 {
		n := notes[0]
		out.Delivery = Delivery{State: n.State, NotificationID: n.ID,
			Failing:   ledger.NotificationView{State: n.State, Attempts: n.Attempts}.Failing(),
			Confirmed: c.FormatAmount(n.Confirmed), Unconfirmed: c.FormatAmount(n.Unconfirmed),
			ConfirmedAtomic: strconv.FormatUint(n.Confirmed, 10), UnconfirmedAtomic: strconv.FormatUint(n.Unconfirmed, 10),
			Height: n.Height, Attempts: n.Attempts, LastStatus: n.LastStatus, LastError: n.LastError,
			CreatedAt: stamp(n.CreatedAt), DeliveredAt: stamp(n.DeliveredAt)}
		if n.State == ledger.NotePending {
			out.Delivery.NextAttemptAt = stamp(n.NextAttemptAt)
		}
		for _, a := range atts { // newest first
			if a.NotificationID == n.ID {
				out.Delivery.LastAttemptAt = stamp(a.At)
				break
			}
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
