package db

// List queries (package ledger documents the contract): one indexed,
// keyset-paginated query per list, shared by the API's GET list endpoints,
// the CLI and the operator console.

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// checkLimit refuses a page size outside 1..ledger.MaxListLimit.
func checkLimit(limit int) error {
	if limit < 1 || limit > ledger.MaxListLimit {
		return fmt.Errorf("list: limit %d: must be 1 to %d", limit, ledger.MaxListLimit)
	}
	return nil
}

// idCursor reads a cursor that is a row id: 0 for the first page.
func idCursor(after string) (int64, error) {
	if after == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(after, 10, 64)
	if err != nil || id <= 0 || !isDigits(after) {
		return 0, fmt.Errorf("list: cursor %.40q: %w", after, ledger.ErrInvalidCursor)
	}
	return id, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// likePrefix is a LIKE pattern (ESCAPE '!') matching strings that start
// with p. Both databases compare it as their collation does: labels and URLs
// case-insensitively on MySQL, and ASCII case-insensitively on SQLite;
// callers that need an exact prefix check it again (exactPrefix).
func likePrefix(p string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return r.Replace(p) + "%"
}

// where collects a query's conditions and their arguments in order.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return "1 = 1"
	}
	return strings.Join(w.conds, " AND ")
}

// addressIDs is a subquery of the ids of the addresses equal to addr (on
// any chain, through the (chain, address) unique key) or of chain c.
func addressIDs(c chains.Chain, addr string) (string, []any) {
	cs := []any{string(c)}
	if c == "" {
		cs = cs[:0]
		for _, x := range chains.All {
			cs = append(cs, string(x))
		}
	}
	return `SELECT id FROM addresses WHERE chain IN (` + placeholders(len(cs)) + `) AND address = ?`, append(cs, ledgerAddress(addr))
}

// ListAddresses lists watched addresses, newest first.
func (l *Ledger) ListAddresses(ctx context.Context, q ledger.AddressQuery) (ledger.Page[chains.Address], error) {
	var page ledger.Page[chains.Address]
	if err := checkLimit(q.Limit); err != nil {
		return page, err
	}
	after, err := idCursor(q.After)
	if err != nil {
		return page, err
	}
	var w where
	if q.Chain != "" {
		w.add(`chain = ?`, string(q.Chain))
	}
	if q.Address != "" {
		sub, args := addressIDs(q.Chain, q.Address)
		w.add(`id IN (`+sub+`)`, args...)
	}
	if q.Label != "" {
		w.add(`label LIKE ? ESCAPE '!'`, likePrefix(q.Label))
	}
	if q.Search != "" {
		sub, args := addressIDs(q.Chain, q.Search)
		w.add(`(id IN (`+sub+`) OR label LIKE ? ESCAPE '!')`, append(args, likePrefix(q.Search))...)
	}
	if after > 0 {
		w.add(`id < ?`, after)
	}
	rows, err := l.db.QueryContext(ctx, `SELECT `+addressCols+` FROM addresses WHERE `+w.sql()+` ORDER BY id DESC LIMIT ?`,
		append(w.args, q.Limit+1)...)
	if err != nil {
		return page, fmt.Errorf("list addresses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAddress(rows)
		if err != nil {
			return page, fmt.Errorf("list addresses: %w", err)
		}
		if len(page.Items) == q.Limit {
			page.Next = strconv.FormatInt(page.Items[len(page.Items)-1].ID, 10)
			break
		}
		page.Items = append(page.Items, a)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list addresses: %w", err)
	}
	return page, nil
}

// failingSQL is true for a notification n that is failing
// (ledger.NotificationView.Failing): given up, or pending after a failed
// attempt. The state test comes first so that the (state, ...) indexes
// narrow it to the backlog.
var failingSQL = `n.state IN ('` + ledger.NotePending + `', '` + ledger.NoteFailed + `') AND (n.state = '` +
	ledger.NoteFailed + `' OR n.attempts > 0)`

// failingSubsSQL selects the ids of the subscriptions whose newest
// notification is failing: from the failing notifications (a range of the
// (state, next_attempt_at) index) to the newest of each (the
// (subscription_id, id) index).
var failingSubsSQL = `SELECT n.subscription_id FROM notifications n WHERE ` + failingSQL + `
  AND NOT EXISTS (SELECT 1 FROM notifications n2 WHERE n2.subscription_id = n.subscription_id AND n2.id > n.id)`

const subscriptionViewCols = `s.id, s.chain, a.address, a.label, s.url, s.max_confirms, s.format, s.active, s.created_at`

// subscriptionFilter turns a query's filters into conditions on
// subscriptions s joined with addresses a.
func subscriptionFilter(q ledger.SubscriptionQuery) (where, error) {
	var w where
	if q.Chain != "" {
		w.add(`s.chain = ?`, string(q.Chain))
	}
	if q.Address != "" {
		sub, args := addressIDs(q.Chain, q.Address)
		w.add(`s.address_id IN (`+sub+`)`, args...)
	}
	if q.Label != "" {
		w.add(`a.label LIKE ? ESCAPE '!'`, likePrefix(q.Label))
	}
	if q.URL != "" {
		w.add(`s.endpoint_id IN (SELECT id FROM endpoints WHERE url_hash = ?)`, urlHash(q.URL))
	}
	if q.URLPrefix != "" {
		w.add(`s.endpoint_id IN (SELECT id FROM endpoints WHERE url LIKE ? ESCAPE '!')`, likePrefix(q.URLPrefix))
	}
	switch q.State {
	case ledger.AnySubscription:
	case ledger.ActiveSubscriptions:
		w.add(`s.active = 1`)
	case ledger.EndedSubscriptions:
		w.add(`s.active = 0`)
	case ledger.FailingSubscriptions:
		w.add(`s.active = 1 AND s.id IN (` + failingSubsSQL + `)`)
	default:
		return w, fmt.Errorf("list subscriptions: unknown state %q", q.State)
	}
	return w, nil
}

// ListSubscriptions lists subscriptions, newest first, each with its
// address's label and its newest notification.
func (l *Ledger) ListSubscriptions(ctx context.Context, q ledger.SubscriptionQuery) (ledger.Page[ledger.SubscriptionView], error) {
	var page ledger.Page[ledger.SubscriptionView]
	if err := checkLimit(q.Limit); err != nil {
		return page, err
	}
	after, err := idCursor(q.After)
	if err != nil {
		return page, err
	}
	w, err := subscriptionFilter(q)
	if err != nil {
		return page, err
	}
	if after > 0 {
		w.add(`s.id < ?`, after)
	}
	subs, err := l.querySubscriptionViews(ctx, w.sql()+` ORDER BY s.id DESC LIMIT ?`, append(w.args, q.Limit+1)...)
	if err != nil {
		return page, err
	}
	// Next is the last row read, whether or not the exact URL prefix
	// kept it: the scan resumes after it.
	if len(subs) > q.Limit {
		subs = subs[:q.Limit]
		page.Next = strconv.FormatInt(subs[len(subs)-1].ID, 10)
	}
	for _, s := range subs {
		if strings.HasPrefix(s.URL, q.URLPrefix) {
			page.Items = append(page.Items, s)
		}
	}
	return page, l.addNewest(ctx, page.Items)
}

// SubscriptionByID is one subscription (active or ended) with its label and
// newest notification.
func (l *Ledger) SubscriptionByID(ctx context.Context, id int64) (ledger.SubscriptionView, error) {
	subs, err := l.querySubscriptionViews(ctx, `s.id = ?`, id)
	if err != nil {
		return ledger.SubscriptionView{}, err
	}
	if len(subs) == 0 {
		return ledger.SubscriptionView{}, fmt.Errorf("subscription %d: %w", id, ledger.ErrNotFound)
	}
	return subs[0], l.addNewest(ctx, subs)
}

func (l *Ledger) querySubscriptionViews(ctx context.Context, cond string, args ...any) ([]ledger.SubscriptionView, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT `+subscriptionViewCols+` FROM subscriptions s
  JOIN addresses a ON a.id = s.address_id WHERE `+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	defer rows.Close()
	var out []ledger.SubscriptionView
	for rows.Next() {
		var s ledger.SubscriptionView
		var chain string
		var created int64
		if err := rows.Scan(&s.ID, &chain, &s.Address, &s.Label, &s.URL, &s.MaxConfirms, &s.Format, &s.Active, &created); err != nil {
			return nil, fmt.Errorf("list subscriptions: %w", err)
		}
		s.Chain, s.CreatedAt = chains.Chain(chain), fromMicros(created)
		out = append(out, s)
	}
	return out, rows.Err()
}

// addNewest fills in each subscription's newest notification: the newest
// ids through the (subscription_id, id) index, then those rows.
func (l *Ledger) addNewest(ctx context.Context, subs []ledger.SubscriptionView) error {
	if len(subs) == 0 {
		return nil
	}
	ids := make([]any, len(subs))
	for i, s := range subs {
		ids[i] = s.ID
	}
	rows, err := l.db.QueryContext(ctx, `SELECT MAX(id) FROM notifications WHERE subscription_id IN (`+placeholders(len(ids))+`)
  GROUP BY subscription_id`, ids...)
	if err != nil {
		return fmt.Errorf("newest notifications: %w", err)
	}
	var newest []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("newest notifications: %w", err)
		}
		newest = append(newest, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(newest) == 0 {
		return err
	}
	notes, err := l.queryNotificationViews(ctx, `n.id IN (`+placeholders(len(newest))+`)`, newest...)
	if err != nil {
		return err
	}
	bySub := map[int64]ledger.NotificationView{}
	for _, n := range notes {
		bySub[n.SubscriptionID] = n
	}
	for i := range subs {
		subs[i].Newest = bySub[subs[i].ID]
	}
	return nil
}
