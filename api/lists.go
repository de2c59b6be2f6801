package api

// GET /addresses, /subscriptions and /notifications (the ledger's list
// queries, keyset-paginated) and POST /subscriptions/redeliver.

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Page sizes of the list endpoints.
const (
	defaultListLimit = 100
	maxListLimit     = ledger.MaxListLimit
)

// listCursor reads limit and after.
func listCursor(p *params) (ledger.Cursor, error) {
	n, ok, err := p.uint("limit", 1, maxListLimit)
	if err != nil {
		return ledger.Cursor{}, err
	}
	if !ok {
		n = defaultListLimit
	}
	after, _, err := p.str("after", 512)
	return ledger.Cursor{After: after, Limit: int(n)}, err
}

// listError answers a list query's failure: a cursor the ledger did not
// make is the request's fault.
func listError(err error) error {
	if errors.Is(err, ledger.ErrInvalidCursor) {
		return badField("after", "not a cursor of this list: pass the next value of the previous page, or leave it out for the first")
	}
	return err
}

// listChain reads the chain filter: any chain ipnd knows, enabled or not
// (a disabled chain's records stay in the ledger).
func listChain(p *params) (chains.Chain, error) {
	name, ok, err := p.str("chain", 16)
	if err != nil || !ok {
		return "", err
	}
	c, err := chains.ParseChain(name)
	if err != nil {
		return "", badField("chain", "unknown chain %q; use %s", name, chains.Choices())
	}
	return c, nil
}

// listAddress reads the address filter in its canonical form.
func (s *Server) listAddress(p *params, c chains.Chain) (string, error) {
	addr, ok, err := p.str("address", maxAddressLen)
	if err != nil || !ok {
		return "", err
	}
	if c != "" {
		if _, enabled := s.o.Chains[c]; !enabled {
			return addr, nil // no adapter to check it with: compared as given
		}
		return s.canonical(c, addr)
	}
	for _, c := range s.order {
		if canonical, err := s.o.Chains[c].Canonical(addr); err == nil {
			return canonical, nil
		}
	}
	return addr, nil
}

// AddressItem is an address in GET /addresses.
type AddressItem struct {
	Chain           chains.Chain `json:"chain"`
	Address         string       `json:"address"`
	Label           string       `json:"label"`
	Index           *uint32      `json:"index,omitempty"`
	AccountIndex    *uint32      `json:"account_index,omitempty"`
	SubaddressIndex *uint32      `json:"subaddress_index,omitempty"`
	CreatedAt       string       `json:"created_at"`
}

func (s *Server) addressList(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	q := ledger.AddressQuery{}
	if q.Chain, err = listChain(p); err != nil {
		return err
	}
	if q.Address, err = s.listAddress(p, q.Chain); err != nil {
		return err
	}
	if q.Label, _, err = p.str("label", maxLabelLen); err != nil {
		return err
	}
	if q.Cursor, err = listCursor(p); err != nil {
		return err
	}
	page, err := s.o.Ledger.ListAddresses(r.Context(), q)
	if err != nil {
		return listError(err)
	}
	out := AddressPage{Addresses: make([]AddressItem, 0, len(page.Items)), Next: page.Next}
	for _, a := range page.Items {
		out.Addresses = append(out.Addresses, AddressItem{Chain: a.Chain, Address: a.Address, Label: a.Label,
			Index: a.DerivationIndex, AccountIndex: a.AccountIndex, SubaddressIndex: a.SubaddressIndex, CreatedAt: stamp(a.CreatedAt)})
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// AddressPage is an answer of GET /addresses.
type AddressPage struct {
	Addresses []AddressItem `json:"addresses"`
	Next      string        `json:"next,omitempty"`
}

// subscriptionQuery reads the subscription filters of GET /subscriptions
// and POST /subscriptions/redeliver.
func (s *Server) subscriptionQuery(p *params) (ledger.SubscriptionQuery, error) {
	var q ledger.SubscriptionQuery
	var err error
	if q.Chain, err = listChain(p); err != nil {
		return q, err
	}
	if q.Address, err = s.listAddress(p, q.Chain); err != nil {
		return q, err
	}
	if q.Label, _, err = p.str("label", maxLabelLen); err != nil {
		return q, err
	}
	if q.URL, _, err = p.str("url", maxURLLen); err != nil {
		return q, err
	}
	if q.URLPrefix, _, err = p.str("url_prefix", maxURLLen); err != nil {
		return q, err
	}
	state, _, err := p.str("state", 16)
	if err != nil {
		return q, err
	}
	st, ok := ledger.ParseSubscriptionState(strings.ToLower(state))
	if !ok {
		return q, badField("state", "must be active, failing or ended")
	}
	q.State = st
	return q, nil
}

// SubscriptionItem is a subscription in GET /subscriptions (and the CLI's
// ipnd subscriptions -json).
type SubscriptionItem struct {
	SubscriptionFields
	Delivery Delivery `json:"delivery"`
}

// SubscriptionPage is an answer of GET /subscriptions.
type SubscriptionPage struct {
	Subscriptions []SubscriptionItem `json:"subscriptions"`
	Next          string             `json:"next,omitempty"`
}

// SubscriptionPageOf renders a page of the ledger's subscription list.
func SubscriptionPageOf(page ledger.Page[ledger.SubscriptionView]) SubscriptionPage {
	out := SubscriptionPage{Subscriptions: make([]SubscriptionItem, 0, len(page.Items)), Next: page.Next}
	for _, v := range page.Items {
		out.Subscriptions = append(out.Subscriptions, SubscriptionItem{SubscriptionFields: SubscriptionFields{ID: v.ID,
			Chain: v.Chain, Address: v.Address, Label: v.Label, URL: v.URL, MaxConfirms: v.MaxConfirms, Format: v.Format,
			Active: v.Active, CreatedAt: stamp(v.CreatedAt)}, Delivery: viewDelivery(v.Newest)})
	}
	return out
}

// viewDelivery is where a listed subscription's newest notification stands.
func viewDelivery(n ledger.NotificationView) Delivery {
	if n.ID == 0 {
		return Delivery{State: "none"}
	}
	c := n.Chain
	d := Delivery{State: n.State, Failing: n.Failing(), NotificationID: n.ID,
		Confirmed: c.FormatAmount(n.Confirmed), Unconfirmed: c.FormatAmount(n.Unconfirmed),
		ConfirmedAtomic: strconv.FormatUint(n.Confirmed, 10), UnconfirmedAtomic: strconv.FormatUint(n.Unconfirmed, 10),
		Height: n.Height, Attempts: n.Attempts, LastAttemptAt: stamp(n.LastAttemptAt), LastStatus: n.LastStatus,
		LastError: n.LastError, CreatedAt: stamp(n.CreatedAt), DeliveredAt: stamp(n.DeliveredAt)}
	if n.State == ledger.NotePending {
		d.NextAttemptAt = stamp(n.NextAttemptAt)
	}
	return d
}

func (s *Server) subscriptionList(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	q, err := s.subscriptionQuery(p)
	if err != nil {
		return err
	}
	if q.Cursor, err = listCursor(p); err != nil {
		return err
	}
	page, err := s.o.Ledger.ListSubscriptions(r.Context(), q)
	if err != nil {
		return listError(err)
	}
	s.writeJSON(w, http.StatusOK, SubscriptionPageOf(page))
	return nil
}

// redeliverMatching redelivers every active subscription the filters match
// (state active, the default, or failing), as POST
// /subscriptions/{id}/redeliver does one.
func (s *Server) redeliverMatching(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	q, err := s.subscriptionQuery(p)
	if err != nil {
		return err
	}
	switch q.State {
	case ledger.AnySubscription:
		q.State = ledger.ActiveSubscriptions
	case ledger.EndedSubscriptions:
		return badField("state", "ended subscriptions get no IPNs: use active or failing")
	}
	if q.State != ledger.FailingSubscriptions && q.URL == "" && q.URLPrefix == "" && q.Address == "" && q.Label == "" && q.Chain == "" {
		return badField("state", "give a filter (state=failing, url_prefix, url, address, label or chain): "+
			"redelivering every subscription at once is rarely what is meant")
	}
	ids, err := s.o.Ledger.RedeliverAll(r.Context(), q)
	if len(ids) > 0 {
		s.o.Notify()
		s.log.Info("bulk redelivery requested", "subscriptions", len(ids), "state", q.State)
	}
	if err != nil {
		return err
	}
	if ids == nil {
		ids = []int64{}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"status": "success", "redelivered": len(ids), "ids": ids})
	return nil
}

// NotificationItem is a notification in GET /notifications (and the CLI's
// ipnd deliveries -json).
type NotificationItem struct {
	ID                int64        `json:"id"`
	SubscriptionID    int64        `json:"subscription_id"`
	Chain             chains.Chain `json:"chain"`
	Address           string       `json:"address"`
	Label             string       `json:"label"`
	URL               string       `json:"url"`
	Confirmed         string       `json:"confirmed"`
	Unconfirmed       string       `json:"unconfirmed"`
	ConfirmedAtomic   string       `json:"confirmed_atomic"`
	UnconfirmedAtomic string       `json:"unconfirmed_atomic"`
	Height            int64        `json:"height"`
	State             string       `json:"state"`
	Failing           bool         `json:"failing"`
	Attempts          int          `json:"attempts"`
	LastAttemptAt     string       `json:"last_attempt_at,omitempty"`
	LastStatus        int          `json:"last_status,omitempty"`
	LastError         string       `json:"last_error,omitempty"`
	NextAttemptAt     string       `json:"next_attempt_at,omitempty"`
	CreatedAt         string       `json:"created_at"`
	DeliveredAt       string       `json:"delivered_at,omitempty"`
}

// NotificationPage is an answer of GET /notifications.
type NotificationPage struct {
	Notifications []NotificationItem `json:"notifications"`
	Next          string             `json:"next,omitempty"`
}

// NotificationPageOf renders a page of the ledger's notification list.
func NotificationPageOf(page ledger.Page[ledger.NotificationView]) NotificationPage {
	out := NotificationPage{Notifications: make([]NotificationItem, 0, len(page.Items)), Next: page.Next}
	for _, n := range page.Items {
		d := viewDelivery(n)
		out.Notifications = append(out.Notifications, NotificationItem{ID: n.ID, SubscriptionID: n.SubscriptionID,
			Chain: n.Chain, Address: n.Address, Label: n.Label, URL: n.URL, Confirmed: d.Confirmed, Unconfirmed: d.Unconfirmed,
			ConfirmedAtomic: d.ConfirmedAtomic, UnconfirmedAtomic: d.UnconfirmedAtomic, Height: n.Height, State: n.State,
			Failing: d.Failing, Attempts: n.Attempts, LastAttemptAt: d.LastAttemptAt, LastStatus: n.LastStatus,
			LastError: n.LastError, NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt})
	}
	return out
}

func (s *Server) notificationList(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var q ledger.NotificationQuery
	if q.Chain, err = listChain(p); err != nil {
		return err
	}
	if q.Address, err = s.listAddress(p, q.Chain); err != nil {
		return err
	}
	if q.Label, _, err = p.str("label", maxLabelLen); err != nil {
		return err
	}
	sub, _, err := p.uint("subscription_id", 1, 1<<63-1)
	if err != nil {
		return err
	}
	q.SubscriptionID = int64(sub)
	state, _, err := p.str("state", 16)
	if err != nil {
		return err
	}
	if st, ok := ledger.ParseNotificationState(state); ok {
		q.State = st
	} else if strings.EqualFold(state, "failing") {
		q.Failing = true
	} else if state != "" {
		return badField("state", "must be one of %s, failing", strings.Join(ledger.NotificationStates, ", "))
	}
	if q.Cursor, err = listCursor(p); err != nil {
		return err
	}
	page, err := s.o.Ledger.ListNotifications(r.Context(), q)
	if err != nil {
		return listError(err)
	}
	s.writeJSON(w, http.StatusOK, NotificationPageOf(page))
	return nil
}
