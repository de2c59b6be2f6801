package db

// What the operator console reads and does beyond the lists: the chains'
// and the deliveries' figures, bulk redelivery and secret rotation.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// ChainStatusesOf is one row per chain of enabled, in that order: the
// ledger's tip and the sync role's last heartbeat (zero fields for a chain
// no sync role has followed yet).
func (l *Ledger) ChainStatusesOf(ctx context.Context, enabled []chains.Chain) ([]ledger.ChainStatus, error) {
	hbs, err := l.Heartbeats(ctx)
	if err != nil {
		return nil, err
	}
	tips := map[chains.Chain]ledger.ChainStatus{}
	rows, err := l.db.QueryContext(ctx, `SELECT chain, height, hash, updated_at FROM chain_state`)
	if err != nil {
		return nil, fmt.Errorf("read chain tips: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		var t ledger.ChainStatus
		var at int64
		if err := rows.Scan(&c, &t.Height, &t.LastBlockHash, &at); err != nil {
			return nil, fmt.Errorf("read chain tips: %w", err)
		}
		t.LastBlockAt = fromMicros(at)
		tips[chains.Chain(c)] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read chain tips: %w", err)
	}
	out := make([]ledger.ChainStatus, 0, len(enabled))
	for _, c := range enabled {
		st := tips[c]
		st.Chain = c
		if hb, ok := hbs[c]; ok {
			st.NodeHeight, st.State, st.Error, st.HeartbeatAt = hb.NodeHeight, chains.SyncState(hb.State), hb.Error, hb.BeatAt
			st.Push = hb.Feed != "" && hb.Feed != "polling"
			if st.Height == 0 {
				st.Height = hb.Height
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// latencySamples bounds the acknowledgements DeliveryStats reads for the
// latency percentiles: the newest ones.
const latencySamples = 10000

// DeliveryStats counts the notifications pending and failing now and the
// ones acknowledged at or after since, with the observation → acknowledgement
// latency of (at most the newest 10,000 of) those about chain events. Each
// figure is a range of an index: the backlog, the failing subscriptions,
// the acknowledgements since.
func (l *Ledger) DeliveryStats(ctx context.Context, since time.Time) (ledger.DeliveryStats, error) {
	var st ledger.DeliveryStats
	err := l.db.QueryRowContext(ctx, `SELECT
  (SELECT COUNT(*) FROM notifications WHERE state = ? AND attempts = 0),
  (SELECT COUNT(*) FROM subscriptions s WHERE s.active = 1 AND s.id IN (`+failingSubsSQL+`)),
  (SELECT COUNT(*) FROM notifications WHERE state = ? AND delivered_at >= ?)`,
		ledger.NotePending, ledger.NoteDelivered, micros(since)).Scan(&st.Pending, &st.Failing, &st.Acknowledged)
	if err != nil {
		return st, fmt.Errorf("delivery figures: %w", err)
	}
	rows, err := l.db.QueryContext(ctx, `SELECT delivered_at - observed_at FROM notifications
  WHERE state = ? AND delivered_at >= ? AND observed_at > 0 ORDER BY delivered_at DESC LIMIT ?`,
		ledger.NoteDelivered, micros(since), latencySamples)
	if err != nil {
		return st, fmt.Errorf("delivery latency: %w", err)
	}
	defer rows.Close()
	var ds []time.Duration
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return st, fmt.Errorf("delivery latency: %w", err)
		}
		ds = append(ds, microDuration(max(us, 0)))
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("delivery latency: %w", err)
	}
	st.AckLatency = latencyOf(ds)
	return st, nil
}

// latencyOf is the nearest-rank p50 and p95 of ds.
func latencyOf(ds []time.Duration) ledger.Latency {
	if len(ds) == 0 {
		return ledger.Latency{}
	}
	slices.Sort(ds)
	rank := func(p int) time.Duration {
		i := (p*len(ds)+99)/100 - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return ledger.Latency{P50: rank(50), P95: rank(95), Count: int64(len(ds))}
}

// RedeliverAll does Redeliver for every active subscription q matches
// (its State must be active or failing), a page at a time, and returns the
// ids it redelivered. A subscription ended meanwhile is skipped.
func (l *Ledger) RedeliverAll(ctx context.Context, q ledger.SubscriptionQuery) ([]int64, error) {
	if q.State != ledger.ActiveSubscriptions && q.State != ledger.FailingSubscriptions {
		return nil, fmt.Errorf("redeliver: state %q: only active or failing subscriptions can be redelivered", q.State)
	}
	q.Limit, q.After = 100, ""
	var done []int64
	for {
		page, err := l.ListSubscriptions(ctx, q)
		if err != nil {
			return done, err
		}
		for _, s := range page.Items {
			if _, err := l.Redeliver(ctx, s.ID); errors.Is(err, ledger.ErrNotFound) {
				continue
			} else if err != nil {
				return done, err
			}
			done = append(done, s.ID)
		}
		if page.Next == "" {
			return done, nil
		}
		q.After = page.Next
	}
}

// ConsoleStore is the ledger as the operator console uses it
// (console.Store): the ledger's lists and actions, plus what needs the
// configuration, the enabled chains and how endpoint secrets are made and
// rotated.
type ConsoleStore struct {
	*Ledger
	// Chains are the enabled chains, in the overview's order.
	Chains []chains.Chain
	// NewSecret makes endpoint secrets (ipn.NewSecret).
	NewSecret func() (string, error)
	// SecretGrace is how long a rotated secret keeps signing ([ipn]
	// secret_grace).
	SecretGrace time.Duration
}

// ChainStatuses is ChainStatusesOf the enabled chains.
func (s ConsoleStore) ChainStatuses(ctx context.Context) ([]ledger.ChainStatus, error) {
	return s.ChainStatusesOf(ctx, s.Chains)
}

// RedeliverFailing redelivers every failing subscription of the endpoint
// (exact URL) and says how many there were.
func (s ConsoleStore) RedeliverFailing(ctx context.Context, endpointURL string) (int, error) {
	ids, err := s.RedeliverAll(ctx, ledger.SubscriptionQuery{URL: endpointURL, State: ledger.FailingSubscriptions})
	return len(ids), err
}

// RotateSecret gives the endpoint a new signing secret; the previous one
// signs too until the answer's PreviousValidUntil.
func (s ConsoleStore) RotateSecret(ctx context.Context, endpointURL string) (ledger.Rotation, error) {
	secret, err := s.NewSecret()
	if err != nil {
		return ledger.Rotation{}, err
	}
	e, err := s.RotateEndpointSecret(ctx, endpointURL, secret, s.SecretGrace)
	if err != nil {
		return ledger.Rotation{}, err
	}
	return ledger.Rotation{Secret: e.Secret, PreviousValidUntil: e.PreviousUntil}, nil
}
