package console_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ledger"
)

// fakeStore is an in-memory ledger for the console's tests. Its
// "receivers" map says what each endpoint URL answers (an HTTP status);
// deliverDue plays the IPN worker: it attempts every due notification
// against that map and records the attempt.
type fakeStore struct {
	mu          sync.Mutex
	now         func() time.Time
	chains      []console.ChainStatus
	stats       console.DeliveryStats
	addresses   []chains.Address
	subs        map[int64]*console.Subscription
	notes       []*console.Notification
	attempts    map[int64][]ledger.Attempt // by subscription, oldest first
	receivers   map[string]int
	secrets     map[string]time.Time // endpoint URL -> secret issued at
	rotations   int
	redelivered []int64
	invoices    []invoice.Invoice
	err         error // when set, every call fails with it
	onChange    func()
	chainReads  atomic.Int64 // ChainStatuses calls
}

var (
	_ console.Store        = (*fakeStore)(nil)
	_ console.InvoiceStore = (*fakeStore)(nil)
)

const (
	goodURL   = "https://shop.example/ipn"
	brokenURL = "https://broken.example/ipn?token=abc"
	hostile   = `<script>alert("label")</script>`
)

func newFakeStore(now func() time.Time) *fakeStore {
	t0 := now()
	f := &fakeStore{
		now:       now,
		subs:      map[int64]*console.Subscription{},
		attempts:  map[int64][]ledger.Attempt{},
		receivers: map[string]int{goodURL: 200, brokenURL: 500},
		secrets:   map[string]time.Time{goodURL: t0.Add(-48 * time.Hour), brokenURL: t0.Add(-24 * time.Hour)},
		onChange:  func() {},
	}
	f.chains = []console.ChainStatus{
		{Chain: chains.BTC, Height: 850_000, NodeHeight: 850_000, Push: true, LastBlockHash: "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054",
			LastBlockAt: t0.Add(-4 * time.Minute), State: chains.Synced, HeartbeatAt: t0.Add(-2 * time.Second)},
		{Chain: chains.XMR, Height: 3_100_000, NodeHeight: 3_100_012, LastBlockHash: "9f2c0de1",
			LastBlockAt: t0.Add(-30 * time.Minute), State: chains.Behind, HeartbeatAt: t0.Add(-3 * time.Second)},
	}
	f.stats = console.DeliveryStats{Pending: 3, Failing: 1, Acknowledged: 42,
		AckLatency: console.Latency{P50: 1200 * time.Millisecond, P95: 7 * time.Second, Count: 42}}
	idx := func(i uint32) *uint32 { return &i }
	f.addresses = []chains.Address{
		{ID: 1, Chain: chains.BTC, Address: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", Label: "order 1001", DerivationIndex: idx(0), CreatedAt: t0.Add(-72 * time.Hour)},
		{ID: 2, Chain: chains.BTC, Address: "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l", Label: hostile, DerivationIndex: idx(1), CreatedAt: t0.Add(-48 * time.Hour)},
		{ID: 3, Chain: chains.XMR, Address: "84zAyHqhYfk3vNmUp1FJKpGMbs4ZJE8Fq4yWZMqd8LUJ", Label: "donations", AccountIndex: idx(0), SubaddressIndex: idx(3), CreatedAt: t0.Add(-24 * time.Hour)},
	}
	f.addSub(1, f.addresses[0], goodURL, true)
	f.addSub(2, f.addresses[1], brokenURL, true)
	f.addSub(3, f.addresses[2], goodURL, false)
	// Subscription 1: acknowledged at once.
	n1 := f.newNote(1, 150_000, 0)
	f.attemptLocked(n1, t0.Add(-time.Hour))
	// Subscription 2: its receiver answers 500, three attempts so far.
	n2 := f.newNote(2, 250_000, 10_000)
	for i := 3; i > 0; i-- {
		f.attemptLocked(n2, t0.Add(-time.Duration(i)*10*time.Minute))
	}
	f.receivers[brokenURL] = 500
	f.invoices = []invoice.Invoice{
		{ID: "inv_aaaaaaaaaaaaaaaaaaaaaaaaa2", Chain: chains.BTC, Address: f.addresses[0].Address, AmountAtomic: 150_000,
			OrderID: "A-1001", Description: hostile, Status: invoice.StatusPaid, PaidAtomic: 150_000, ExpiresAt: t0.Add(-time.Hour)},
		{ID: "inv_aaaaaaaaaaaaaaaaaaaaaaaaa3", Chain: chains.XMR, Address: f.addresses[2].Address, AmountAtomic: 2_000_000_000_000,
			OrderID: "A-1002", Status: invoice.StatusUnderpaid, PaidAtomic: 500_000_000_000, DueAtomic: 1_500_000_000_000, ExpiresAt: t0.Add(-time.Minute)},
	}
	return f
}

func (f *fakeStore) addSub(id int64, a chains.Address, url string, active bool) {
	f.subs[id] = &console.Subscription{ID: id, Chain: a.Chain, Address: a.Address, Label: a.Label, URL: url,
		MaxConfirms: 2, Format: "json", Active: active, CreatedAt: a.CreatedAt}
}

func (f *fakeStore) newNote(subID int64, confirmed, unconfirmed uint64) *console.Notification {
	s := f.subs[subID]
	for _, n := range f.notes {
		if n.SubscriptionID == subID && n.State == ledger.NotePending {
			n.State = ledger.NoteSuperseded
		}
	}
	n := &console.Notification{ID: int64(len(f.notes) + 1), SubscriptionID: subID, Chain: s.Chain, Address: s.Address, URL: s.URL,
		Confirmed: confirmed, Unconfirmed: unconfirmed, State: ledger.NotePending, CreatedAt: f.now(), NextAttemptAt: f.now()}
	f.notes = append(f.notes, n)
	s.Newest = *n
	return n
}

// attemptLocked delivers n to its receiver as the fake knows it.
func (f *fakeStore) attemptLocked(n *console.Notification, at time.Time) {
	status := f.receivers[n.URL]
	a := ledger.Attempt{NotificationID: n.ID, SubscriptionID: n.SubscriptionID, At: at, Status: status, Delivered: status == 200, Duration: 85 * time.Millisecond}
	n.Attempts++
	n.LastAttemptAt, n.LastStatus = at, status
	if a.Delivered {
		n.State, n.DeliveredAt, n.LastError = ledger.NoteDelivered, at, ""
	} else {
		a.Error = fmt.Sprintf("receiver answered %d", status)
		n.LastError = a.Error
		n.NextAttemptAt = at.Add(time.Duration(n.Attempts) * time.Minute)
	}
	f.attempts[n.SubscriptionID] = append(f.attempts[n.SubscriptionID], a)
	if s := f.subs[n.SubscriptionID]; s.Newest.ID == n.ID {
		s.Newest = *n
	}
}

// setReceiver says what url answers from now on.
func (f *fakeStore) setReceiver(url string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.receivers[url] = status
}

// deliverDue is one round of the IPN worker: every pending notification
// whose time has come is attempted.
func (f *fakeStore) deliverDue() {
	f.mu.Lock()
	for _, n := range f.notes {
		if n.State == ledger.NotePending && !n.NextAttemptAt.After(f.now()) && f.subs[n.SubscriptionID].Active {
			f.attemptLocked(n, f.now())
		}
	}
	f.mu.Unlock()
	f.onChange()
}

func (f *fakeStore) fail() error {
	return f.err
}

func (f *fakeStore) ChainStatuses(ctx context.Context) ([]console.ChainStatus, error) {
	f.chainReads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return nil, err
	}
	return slices.Clone(f.chains), nil
}

func (f *fakeStore) DeliveryStats(ctx context.Context, since time.Time) (console.DeliveryStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats, f.fail()
}

// page cuts a list ordered by key at the cursor (the last key shown).
func page[T any](items []T, key func(T) string, c console.Cursor) (console.Page[T], error) {
	start := 0
	if c.After != "" {
		i := slices.IndexFunc(items, func(x T) bool { return key(x) == c.After })
		if i < 0 {
			return console.Page[T]{}, fmt.Errorf("fake: cursor %q: %w", c.After, console.ErrInvalidCursor)
		}
		start = i + 1
	}
	limit := c.Limit
	if limit <= 0 || limit > console.MaxLimit {
		return console.Page[T]{}, fmt.Errorf("fake: limit %d out of range", limit)
	}
	end := min(start+limit, len(items))
	p := console.Page[T]{Items: items[start:end]}
	if end < len(items) {
		p.Next = key(items[end-1])
	}
	return p, nil
}

func (f *fakeStore) ListAddresses(ctx context.Context, q console.AddressQuery) (console.Page[chains.Address], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return console.Page[chains.Address]{}, err
	}
	var out []chains.Address
	for _, a := range slices.Backward(f.addresses) {
		if (q.Chain == "" || a.Chain == q.Chain) && (q.Search == "" || a.Address == q.Search || strings.HasPrefix(a.Label, q.Search)) {
			out = append(out, a)
		}
	}
	return page(out, func(a chains.Address) string { return strconv.FormatInt(a.ID, 10) }, q.Cursor)
}

func (f *fakeStore) ListSubscriptions(ctx context.Context, q console.SubscriptionQuery) (console.Page[console.Subscription], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return console.Page[console.Subscription]{}, err
	}
	var out []console.Subscription
	for _, s := range f.subs {
		match := (q.Chain == "" || s.Chain == q.Chain) && (q.Address == "" || s.Address == q.Address) && (q.URL == "" || s.URL == q.URL)
		switch q.State {
		case console.ActiveSubscriptions:
			match = match && s.Active
		case console.FailingSubscriptions:
			match = match && s.Active && s.Newest.Failing()
		case console.EndedSubscriptions:
			match = match && !s.Active
		}
		if match {
			out = append(out, *s)
		}
	}
	slices.SortFunc(out, func(a, b console.Subscription) int { return cmp.Compare(b.ID, a.ID) })
	return page(out, func(s console.Subscription) string { return strconv.FormatInt(s.ID, 10) }, q.Cursor)
}

func (f *fakeStore) SubscriptionByID(ctx context.Context, id int64) (console.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return console.Subscription{}, err
	}
	s, ok := f.subs[id]
	if !ok {
		return console.Subscription{}, fmt.Errorf("fake: subscription %d: %w", id, console.ErrNotFound)
	}
	return *s, nil
}

func (f *fakeStore) Attempts(ctx context.Context, subscriptionID int64, limit int) ([]ledger.Attempt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return nil, err
	}
	var out []ledger.Attempt
	for _, a := range slices.Backward(f.attempts[subscriptionID]) {
		if len(out) == limit {
			break
		}
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeStore) ListEndpoints(ctx context.Context, q console.EndpointQuery) (console.Page[console.Endpoint], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return console.Page[console.Endpoint]{}, err
	}
	byURL := map[string]*console.Endpoint{}
	for _, s := range f.subs {
		e := byURL[s.URL]
		if e == nil {
			e = &console.Endpoint{URL: s.URL, SecretSince: f.secrets[s.URL]}
			byURL[s.URL] = e
		}
		if s.Active {
			e.Subscriptions++
			if s.Newest.Failing() {
				e.Failing++
			}
		}
		if at := f.attempts[s.ID]; len(at) > 0 && at[len(at)-1].At.After(e.LastAttempt.At) {
			e.LastAttempt = at[len(at)-1]
		}
	}
	var out []console.Endpoint
	for _, e := range byURL {
		if strings.HasPrefix(e.URL, q.Prefix) && (!q.Failing || e.Failing > 0) {
			out = append(out, *e)
		}
	}
	slices.SortFunc(out, func(a, b console.Endpoint) int { return strings.Compare(a.URL, b.URL) })
	return page(out, func(e console.Endpoint) string { return e.URL }, q.Cursor)
}

func (f *fakeStore) ListNotifications(ctx context.Context, q console.NotificationQuery) (console.Page[console.Notification], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return console.Page[console.Notification]{}, err
	}
	var out []console.Notification
	for _, n := range f.notes {
		if (q.Chain == "" || n.Chain == q.Chain) && (q.SubscriptionID == 0 || n.SubscriptionID == q.SubscriptionID) && (!q.Failing || n.Failing()) {
			out = append(out, *n)
		}
	}
	slices.SortFunc(out, func(a, b console.Notification) int {
		if a.Failing() != b.Failing() {
			if a.Failing() {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return page(out, func(n console.Notification) string { return strconv.FormatInt(n.ID, 10) }, q.Cursor)
}

func (f *fakeStore) Redeliver(ctx context.Context, id int64) (ledger.Notification, error) {
	f.mu.Lock()
	if err := f.fail(); err != nil {
		f.mu.Unlock()
		return ledger.Notification{}, err
	}
	s, ok := f.subs[id]
	if !ok || !s.Active {
		f.mu.Unlock()
		return ledger.Notification{}, fmt.Errorf("fake: subscription %d: %w", id, ledger.ErrNotFound)
	}
	f.redelivered = append(f.redelivered, id)
	n := f.newNote(id, s.Newest.Confirmed, s.Newest.Unconfirmed)
	f.mu.Unlock()
	f.onChange()
	return ledger.Notification{ID: n.ID, SubscriptionID: id, State: n.State}, nil
}

func (f *fakeStore) RedeliverFailing(ctx context.Context, url string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return 0, err
	}
	n := 0
	for _, s := range f.subs {
		if s.URL == url && s.Active && s.Newest.Failing() {
			f.redelivered = append(f.redelivered, s.ID)
			f.newNote(s.ID, s.Newest.Confirmed, s.Newest.Unconfirmed)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) RotateSecret(ctx context.Context, url string) (console.Rotation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return console.Rotation{}, err
	}
	if _, ok := f.secrets[url]; !ok {
		return console.Rotation{}, fmt.Errorf("fake: endpoint: %w", console.ErrNotFound)
	}
	f.rotations++
	f.secrets[url] = f.now()
	return console.Rotation{Secret: fmt.Sprintf("whsec_rotated%04d", f.rotations), PreviousValidUntil: f.now().Add(24 * time.Hour)}, nil
}

func (f *fakeStore) Unsubscribe(ctx context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	s, ok := f.subs[id]
	if !ok || !s.Active {
		return fmt.Errorf("fake: subscription %d: %w", id, console.ErrNotFound)
	}
	s.Active = false
	return nil
}

func (f *fakeStore) ListInvoices(ctx context.Context, q console.InvoiceQuery) (console.Page[invoice.Invoice], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []invoice.Invoice
	for _, inv := range f.invoices {
		if (q.Status == "" || inv.Status == q.Status) && (q.OrderID == "" || inv.OrderID == q.OrderID) {
			out = append(out, inv)
		}
	}
	return page(out, func(i invoice.Invoice) string { return i.ID }, q.Cursor)
}

func (f *fakeStore) redeliveries() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.redelivered)
}
