package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ledger"
)

// pageSize is how many rows a list page shows.
const pageSize = 50

// attemptsShown is how many attempts a subscription's page lists.
const attemptsShown = 20

// maxParam bounds a query parameter (a search, a URL, a cursor).
const maxParam = 2048

// listParams are a list page's query parameters, checked.
type listParams struct {
	q     url.Values
	chain chains.Chain
	after string
}

// params reads the common parameters; a bad one is answered 400 and ok
// is false.
func (c *Console) params(w http.ResponseWriter, r *http.Request, s *session) (listParams, bool) {
	q := r.URL.Query()
	for _, vs := range q {
		for _, v := range vs {
			if len(v) > maxParam {
				c.errorPage(w, r, s, http.StatusBadRequest, "A search field is too long.")
				return listParams{}, false
			}
		}
	}
	p := listParams{q: q, after: q.Get("after")}
	if v := q.Get("chain"); v != "" {
		ch, err := chains.ParseChain(v)
		if err != nil {
			c.errorPage(w, r, s, http.StatusBadRequest, "Unknown chain: pick one from the list.")
			return listParams{}, false
		}
		p.chain = ch
	}
	return p, true
}

func (p listParams) cursor() Cursor { return Cursor{After: p.after, Limit: pageSize} }

// next is the link to the page after this one ("" on the last).
func (p listParams) next(base, cursor string) string {
	if cursor == "" {
		return ""
	}
	q := url.Values{}
	for k, v := range p.q {
		if k != "after" && len(v) > 0 && v[0] != "" {
			q.Set(k, v[0])
		}
	}
	q.Set("after", cursor)
	return base + "?" + q.Encode()
}

// storeError answers a failed store call.
func (c *Console) storeError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		c.errorPage(w, r, s, http.StatusNotFound, "That record does not exist (or no longer does).")
	case errors.Is(err, ErrInvalidCursor):
		c.errorPage(w, r, s, http.StatusBadRequest, "That page link is not valid any more: start from the first page.")
	case errors.Is(err, context.Canceled):
		// The client went away.
	default:
		c.log.Error("ledger query failed", "path", r.URL.Path, "err", err)
		c.errorPage(w, r, s, http.StatusServiceUnavailable, "The ledger did not answer. Try again in a moment.")
	}
}

// chainRow is a chain's line on the overview, with its readiness.
type chainRow struct {
	ChainStatus
	Ready  bool
	Reason string // why it is not ready
}

type overviewData struct {
	Chains []chainRow
	Stats  DeliveryStats
	Since  time.Time
}

// readiness applies /readyz's rule: synced, with a recent heartbeat.
func (c *Console) readiness(cs ChainStatus, now time.Time) chainRow {
	row := chainRow{ChainStatus: cs}
	switch {
	case cs.HeartbeatAt.IsZero():
		row.Reason = "no heartbeat from the sync role"
	case now.Sub(cs.HeartbeatAt) > c.o.HeartbeatMaxAge:
		row.Reason = "heartbeat older than " + formatDuration(c.o.HeartbeatMaxAge)
	case cs.State != chains.Synced:
		row.Reason = string(cs.State)
		if cs.State == chains.Behind {
			row.Reason += " by " + strconv.FormatInt(cs.Lag(), 10) + " blocks"
		}
	default:
		row.Ready = true
	}
	return row
}

func (c *Console) overviewData(ctx context.Context) (overviewData, error) {
	now := c.o.Now()
	cs, err := c.o.Store.ChainStatuses(ctx)
	if err != nil {
		return overviewData{}, err
	}
	since := now.Add(-time.Hour)
	st, err := c.o.Store.DeliveryStats(ctx, since)
	if err != nil {
		return overviewData{}, err
	}
	d := overviewData{Stats: st, Since: since}
	for _, ch := range cs {
		d.Chains = append(d.Chains, c.readiness(ch, now))
	}
	return d, nil
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := c.sharedOverview(r.Context(), time.Now())
	if err != nil {
		c.storeError(w, r, s, err)
		return
	}
	v := c.page(s, "overview", "Overview", d)
	v.Live = c.path("/events/overview")
	c.render(w, r, http.StatusOK, "overview", v)
}

type listData[T any] struct {
	Items  []T
	Next   string
	Filter url.Values
	Chains []chains.Chain
}

func newList[T any](p listParams, base string, pg Page[T]) listData[T] {
	return listData[T]{Items: pg.Items, Next: p.next(base, pg.Next), Filter: p.q, Chains: chains.All}
}

func (c *Console) addresses(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.params(w, r, s)
	if !ok {
		return
	}
	pg, err := c.o.Store.ListAddresses(r.Context(), AddressQuery{Chain: p.chain, Search: strings.TrimSpace(p.q.Get("q")), Cursor: p.cursor()})
	if err != nil {
		c.storeError(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "addresses", c.page(s, "addresses", "Addresses", newList(p, c.path("/addresses"), pg)))
}

var subscriptionStates = map[string]SubscriptionState{"": AnySubscription, "active": ActiveSubscriptions,
	"failing": FailingSubscriptions, "ended": EndedSubscriptions}

func (c *Console) subscriptions(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.params(w, r, s)
	if !ok {
		return
	}
	state, ok := subscriptionStates[p.q.Get("state")]
	if !ok {
		c.errorPage(w, r, s, http.StatusBadRequest, "Unknown state: pick one from the list.")
		return
	}
	q := SubscriptionQuery{Chain: p.chain, Address: strings.TrimSpace(p.q.Get("address")),
		URL: strings.TrimSpace(p.q.Get("url")), State: state, Cursor: p.cursor()}
	pg, err := c.o.Store.ListSubscriptions(r.Context(), q)
	if err != nil {
		c.storeError(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "subscriptions", c.page(s, "subscriptions", "Subscriptions", newList(p, c.path("/subscriptions"), pg)))
}

type subscriptionData struct {
	Sub      Subscription
	Attempts []ledger.Attempt
}

func (c *Console) subscriptionData(ctx context.Context, id int64) (subscriptionData, error) {
	sub, err := c.o.Store.SubscriptionByID(ctx, id)
	if err != nil {
		return subscriptionData{}, err
	}
	at, err := c.o.Store.Attempts(ctx, id, attemptsShown)
	if err != nil {
		return subscriptionData{}, err
	}
	return subscriptionData{Sub: sub, Attempts: at}, nil
}

// pathID is the {id} of the path, or ok false (answered 404).
func (c *Console) pathID(w http.ResponseWriter, r *http.Request, s *session) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.errorPage(w, r, s, http.StatusNotFound, "There is no such subscription.")
		return 0, false
	}
	return id, true
}

func (c *Console) subscription(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := c.pathID(w, r, s)
	if !ok {
		return
	}
	d, err := c.subscriptionData(r.Context(), id)
	if err != nil {
		c.storeError(w, r, s, err)
		return
	}
	v := c.page(s, "subscriptions", "Subscription "+strconv.FormatInt(id, 10), d)
	v.Live = c.path("/events/subscriptions/" + strconv.FormatInt(id, 10))
	c.render(w, r, http.StatusOK, "subscription", v)
}

func (c *Console) endpoints(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.params(w, r, s)
	if !ok {
		return
	}
	q := EndpointQuery{Prefix: strings.TrimSpace(p.q.Get("prefix")), Failing: p.q.Get("failing") == "1", Cursor: p.cursor()}
	pg, err := c.o.Store.ListEndpoints(r.Context(), q)
	if err != nil {
		c.storeError(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "endpoints", c.page(s, "endpoints", "Endpoints", newList(p, c.path("/endpoints"), pg)))
}

func (c *Console) notifications(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.params(w, r, s)
	if !ok {
		return
	}
	q := NotificationQuery{Chain: p.chain, Failing: p.q.Get("failing") == "1", Cursor: p.cursor()}
	if v := p.q.Get("subscription"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			c.errorPage(w, r, s, http.StatusBadRequest, "The subscription must be a number.")
			return
		}
		q.SubscriptionID = id
	}
	pg, err := c.o.Store.ListNotifications(r.Context(), q)
	if err != nil {
		c.storeError(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "notifications", c.page(s, "notifications", "Notifications", newList(p, c.path("/notifications"), pg)))
}

type invoiceList struct {
	listData[invoice.Invoice]
	Statuses []invoice.Status
}

func (c *Console) invoices(w http.ResponseWriter, r *http.Request, s *session) {
	p, ok := c.params(w, r, s)
	if !ok {
		return
	}
	q := InvoiceQuery{OrderID: strings.TrimSpace(p.q.Get("order_id")), Cursor: p.cursor()}
	if v := p.q.Get("status"); v != "" {
		st, err := invoice.ParseStatus(v)
		if err != nil {
			c.errorPage(w, r, s, http.StatusBadRequest, "Unknown invoice status: pick one from the list.")
			return
		}
		q.Status = st
	}
	pg, err := c.o.Invoices.ListInvoices(r.Context(), q)
	if err != nil {
		c.storeError(w, r, s, err)
		return
	}
	d := invoiceList{listData: newList(p, c.path("/invoices"), pg), Statuses: invoice.Statuses}
	c.render(w, r, http.StatusOK, "invoices", c.page(s, "invoices", "Invoices", d))
}
