// Package metrics is ipnd's Prometheus registry. Components report into it
// through small methods (the chain watchers after each ledger write, the IPN
// worker after each delivery attempt, the HTTP API after each request); the
// chains' sync status and the notification backlog are read at scrape time
// from the sources set with SetChainStatus and SetNotificationCounts.
//
// Every method is safe for concurrent use and does nothing on a nil
// *Registry, so a component can be built without metrics.
package metrics

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Delivery outcomes, the values of the outcome label.
const (
	OutcomeDelivered = "delivered" // the receiver acknowledged
	OutcomeFailed    = "failed"    // will be retried
	OutcomeGaveUp    = "gave_up"   // failed and marked failed (ipn.max_age)
)

// StatusFunc returns the current status of every enabled chain.
type StatusFunc func() []chains.Status

// CountsFunc counts notifications by state (db.Ledger.NotificationCounts).
type CountsFunc func(ctx context.Context) (map[string]int64, error)

// scrapeTimeout bounds the ledger query made at scrape time.
const scrapeTimeout = 3 * time.Second

// Registry holds ipnd's metrics.
type Registry struct {
	reg *prometheus.Registry

	blocks     *prometheus.CounterVec
	reorgs     *prometheus.CounterVec
	reorgDepth *prometheus.HistogramVec
	deposits   *prometheus.CounterVec
	notes      *prometheus.CounterVec

	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// Per-payment latency: chain observation → notification created →
	// acknowledged, by chain.
	payNotify *prometheus.HistogramVec
	payAck    *prometheus.HistogramVec
	payTotal  *prometheus.HistogramVec

	httpReqs *prometheus.CounterVec
	httpDur  *prometheus.HistogramVec

	watcher *watcherMetrics // chains.go

	mu       sync.Mutex
	statusFn StatusFunc
	countsFn CountsFunc
}

// New builds a registry with ipnd's metrics and the Go runtime and process
// collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.blocks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipnd_blocks_processed_total",
		Help: "Blocks written to the ledger, by chain and direction (applied, or reverted by a reorg).",
	}, []string{"chain", "direction"})
	r.reorgs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipnd_reorgs_total",
		Help: "Chain reorganisations handled (one per reorganisation, however deep), by chain.",
	}, []string{"chain"})
	r.reorgDepth = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ipnd_reorg_depth_blocks",
		Help:    "Blocks of the ledger's chain each reorganisation replaced, by chain.",
		Buckets: []float64{1, 2, 3, 6, 10, 20, 50, 100},
	}, []string{"chain"})
	r.deposits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipnd_deposits_total",
		Help: "Deposit changes written to the ledger, by chain and event (added, updated, removed = orphaned or flagged).",
	}, []string{"chain", "event"})
	r.notes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipnd_notifications_created_total",
		Help: "Notifications created by chain writes, by chain.",
	}, []string{"chain"})
	r.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipnd_delivery_attempts_total",
		Help: "IPN delivery attempts, by outcome (delivered, failed, gave_up).",
	}, []string{"outcome"})
	r.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ipnd_delivery_duration_seconds",
		Help:    "Duration of one IPN delivery attempt, by outcome.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"outcome"})
	payBuckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600}
	r.payNotify = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ipnd_payment_notify_seconds",
		Help:    "From the observation of a chain event (the ledger write it caused) to the notification it made, by chain.",
		Buckets: payBuckets,
	}, []string{"chain"})
	r.payAck = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ipnd_payment_ack_seconds",
		Help:    "From a notification's creation to the receiver's acknowledgement, by chain (retries and back-off included).",
		Buckets: payBuckets,
	}, []string{"chain"})
	r.payTotal = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ipnd_payment_latency_seconds",
		Help:    "From the observation of a chain event to the receiver's acknowledgement of the notification it made, by chain.",
		Buckets: payBuckets,
	}, []string{"chain"})
	r.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipnd_http_requests_total",
		Help: "HTTP API requests, by route, method and status code.",
	}, []string{"route", "method", "code"})
	r.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ipnd_http_request_duration_seconds",
		Help:    "HTTP API request duration, by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	r.reg.MustRegister(r.blocks, r.reorgs, r.reorgDepth, r.deposits, r.notes, r.attempts, r.latency, r.payNotify, r.payAck, r.payTotal,
		r.httpReqs, r.httpDur,
		scrapeCollector{r},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.watcher = newWatcherMetrics(r.reg)
	return r
}

// Handler serves the metrics in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// SetChainStatus sets where the per-chain height, node height and lag come
// from at scrape time.
func (r *Registry) SetChainStatus(f StatusFunc) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.statusFn = f
	r.mu.Unlock()
}

// SetNotificationCounts sets where the notifications-by-state gauge comes
// from at scrape time.
func (r *Registry) SetNotificationCounts(f CountsFunc) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.countsFn = f
	r.mu.Unlock()
}

// BlocksApplied records n blocks connected to the ledger (a block, a
// reorganisation's new branch, a Monero reconcile window moving the tip by
// n); it and Reorg and Change make *Registry a chainsync.Observer.
func (r *Registry) BlocksApplied(c chains.Chain, n int) {
	if r == nil || n <= 0 {
		return
	}
	r.blocks.WithLabelValues(string(c), "applied").Add(float64(n))
}

// Reorg records one reorganisation handled on c that replaced depth blocks
// of the ledger's chain: one event, its depth, and depth blocks reverted.
func (r *Registry) Reorg(c chains.Chain, depth int) {
	if r == nil {
		return
	}
	r.reorgs.WithLabelValues(string(c)).Inc()
	if depth > 0 {
		r.reorgDepth.WithLabelValues(string(c)).Observe(float64(depth))
		r.blocks.WithLabelValues(string(c), "reverted").Add(float64(depth))
	}
}

// Change records what any chain write did (a block, a reorganisation, the
// mempool, a Monero reconcile).
func (r *Registry) Change(c chains.Chain, ch chains.Change) {
	if r == nil {
		return
	}
	add := func(event string, n int) {
		if n > 0 {
			r.deposits.WithLabelValues(string(c), event).Add(float64(n))
		}
	}
	add("added", ch.DepositsAdded)
	add("updated", ch.DepositsUpdated)
	add("removed", ch.DepositsRemoved)
	if ch.Notifications > 0 {
		r.notes.WithLabelValues(string(c)).Add(float64(ch.Notifications))
	}
}

// Outcome classifies an attempt result.
func Outcome(res ledger.AttemptResult) string {
	switch {
	case res.Delivered:
		return OutcomeDelivered
	case res.GiveUp:
		return OutcomeGaveUp
	}
	return OutcomeFailed
}

// AttemptDone records one delivery attempt; it makes *Registry an
// ipn.Observer (ipn.Options.Observer). An acknowledgement also records the
// notification's latency from its creation, and, for one made by a chain
// event, from that event's observation.
func (r *Registry) AttemptDone(n ledger.Notification, res ledger.AttemptResult) {
	if r == nil {
		return
	}
	o := Outcome(res)
	r.attempts.WithLabelValues(o).Inc()
	r.latency.WithLabelValues(o).Observe(res.Duration.Seconds())
	if !res.Delivered || !n.Chain.Valid() {
		return
	}
	at := res.At
	if at.IsZero() {
		at = time.Now()
	}
	if !n.CreatedAt.IsZero() {
		r.payAck.WithLabelValues(string(n.Chain)).Observe(max(at.Sub(n.CreatedAt).Seconds(), 0))
	}
	if !n.ObservedAt.IsZero() {
		r.payTotal.WithLabelValues(string(n.Chain)).Observe(max(at.Sub(n.ObservedAt).Seconds(), 0))
	}
}

// NotificationsCreated records how long after its chain event's
// observation each notification of one chain write was made; it makes
// *Registry a db.Observer (db.Options.Observer).
func (r *Registry) NotificationsCreated(c chains.Chain, sinceObserved []time.Duration) {
	if r == nil {
		return
	}
	h := r.payNotify.WithLabelValues(string(c))
	for _, d := range sinceObserved {
		h.Observe(max(d.Seconds(), 0))
	}
}

// ObserveHTTP records one API request. route is the route's pattern (never
// the raw path, which carries addresses and ids).
func (r *Registry) ObserveHTTP(route, method string, code int, d time.Duration) {
	if r == nil {
		return
	}
	r.httpReqs.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	r.httpDur.WithLabelValues(route).Observe(d.Seconds())
}

// scrapeCollector reads the chain status and the notification counts when
// Prometheus scrapes.
type scrapeCollector struct{ r *Registry }

var (
	descHeight = prometheus.NewDesc("ipnd_chain_height",
		"Last block height processed into the ledger.", []string{"chain"}, nil)
	descNodeHeight = prometheus.NewDesc("ipnd_chain_node_height",
		"Best block height of the chain's node as last seen.", []string{"chain"}, nil)
	descLag = prometheus.NewDesc("ipnd_chain_lag_blocks",
		"Blocks the ledger is behind the node.", []string{"chain"}, nil)
	descState = prometheus.NewDesc("ipnd_chain_state",
		"1 for the chain's current state as its sync role's heartbeat says (synced, behind, unreachable, starting; stale: no heartbeat for 30 s).", []string{"chain", "state"}, nil)
	descBeat = prometheus.NewDesc("ipnd_chain_heartbeat_timestamp_seconds",
		"When the chain's sync role last wrote its heartbeat (unix time, the database's clock).", []string{"chain"}, nil)
	descNotes = prometheus.NewDesc("ipnd_notifications",
		"Notifications in the ledger, by state.", []string{"state"}, nil)
	descScrapeErr = prometheus.NewDesc("ipnd_ledger_scrape_error",
		"1 when the ledger could not be read for this scrape.", nil, nil)
)

// StateStale is a chain's state when no fresh heartbeat of its sync role
// is in the ledger (the API's readiness rule).
const StateStale chains.SyncState = "stale"

var allStates = []chains.SyncState{chains.Synced, chains.Behind, chains.Unreachable, chains.Starting, StateStale}

var allNoteStates = []string{ledger.NotePending, ledger.NoteDelivered, ledger.NoteSuperseded, ledger.NoteFailed}

func (c scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHeight, descNodeHeight, descLag, descState, descBeat, descNotes, descScrapeErr} {
		ch <- d
	}
}

func (c scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	c.r.mu.Lock()
	statusFn, countsFn := c.r.statusFn, c.r.countsFn
	c.r.mu.Unlock()
	if statusFn != nil {
		for _, s := range statusFn() {
			name := string(s.Chain)
			ch <- prometheus.MustNewConstMetric(descHeight, prometheus.GaugeValue, float64(s.Height), name)
			ch <- prometheus.MustNewConstMetric(descNodeHeight, prometheus.GaugeValue, float64(s.NodeHeight), name)
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(s.Behind), name)
			for _, st := range allStates {
				v := 0.0
				if s.State == st {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, name, string(st))
			}
			if !s.LastPoll.IsZero() {
				ch <- prometheus.MustNewConstMetric(descBeat, prometheus.GaugeValue, float64(s.LastPoll.UnixMicro())/1e6, name)
			}
		}
	}
	if countsFn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		defer cancel()
		counts, err := countsFn(ctx)
		failed := 0.0
		if err != nil {
			failed = 1
		} else {
			states := append([]string(nil), allNoteStates...)
			for st := range counts {
				if !contains(states, st) {
					states = append(states, st)
				}
			}
			sort.Strings(states)
			for _, st := range states {
				ch <- prometheus.MustNewConstMetric(descNotes, prometheus.GaugeValue, float64(counts[st]), st)
			}
		}
		ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, failed)
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
