package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipnd/ipnd/chains"
)

// The metrics every chain's watcher exports under one name and one set of
// labels. ipnd_chain_push: package metrics exports Monero's, a
// Bitcoin-family watcher its own from its collector (bitcoin.Watcher.Collector)
// with this name and help text (the Prometheus registry accepts one name
// from several collectors only with the same help and the same
// constant/variable split of the labels: chain constant, one collector per
// chain; source variable). ipnd_chain_transfers_skipped_total: one
// collector here for every chain, fed by ChainTransferSkipped (the Monero
// watcher, the ledger's chain writes), registers DescTransfersSkipped; a
// Bitcoin-family watcher's collector emits its undecodable transactions
// with that description too (without describing it again).
const (
	// NamePush: 1 while the chain's push source works, 0 while it polls;
	// labels chain and source (websocket, zmq; none without push).
	NamePush = "ipnd_chain_push"
	HelpPush = "1 while the chain's push source (source: btcd websocket, Bitcoin Core or monerod ZMQ) works, " +
		"0 while the watcher polls at its poll interval."
	// NameTransfersSkipped counts what a node or wallet reported that
	// could not be stored (each counted once); labels chain and reason
	// (Bitcoin family: undecodable; Monero: the monero.Skip* reasons).
	NameTransfersSkipped = "ipnd_chain_transfers_skipped_total"
	HelpTransfersSkipped = "Transactions or transfers a node or wallet reported that could not be read or stored " +
		"(each counted once), by chain and reason."
	// ReasonUndecodable: a Bitcoin-family mempool transaction that does
	// not decode.
	ReasonUndecodable = "undecodable"
)

// watcherMetrics are what a chain watcher reports besides its ledger writes:
// its polls, the push events it heard, the transfers it had to skip and
// whether its push channel is up.
type watcherMetrics struct {
	reg    *prometheus.Registry
	polls  *prometheus.CounterVec
	pushes *prometheus.CounterVec

	skipped *skippedCollector

	mu     sync.Mutex
	pushUp map[chains.Chain]*prometheus.GaugeVec // NamePush, per chain
}

type skipKey struct {
	chain  chains.Chain
	reason string
}

// DescTransfersSkipped describes ipnd_chain_transfers_skipped_total{chain,
// reason}; the registry's collector registers it, and a component that
// keeps its own count emits it with this description (each chain and
// reason from one source only).
var DescTransfersSkipped = prometheus.NewDesc(NameTransfersSkipped, HelpTransfersSkipped, []string{"chain", "reason"}, nil)

// skippedCollector exports the skips reported with ChainTransferSkipped.
type skippedCollector struct {
	mu     sync.Mutex
	counts map[skipKey]uint64
}

func (s *skippedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- DescTransfersSkipped }

func (s *skippedCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.counts {
		ch <- prometheus.MustNewConstMetric(DescTransfersSkipped, prometheus.CounterValue, float64(n), string(k.chain), k.reason)
	}
}

// chainVec returns chain c's vector in m, made and registered on first use
// (a chain whose watcher exports the name itself keeps an unregistered one).
func chainVec[V prometheus.Collector](w *watcherMetrics, m map[chains.Chain]V, c chains.Chain, mk func(prometheus.Labels) V) V {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v, ok := m[c]; ok {
		return v
	}
	v := mk(prometheus.Labels{"chain": string(c)})
	_ = w.reg.Register(v)
	m[c] = v
	return v
}

func newWatcherMetrics(reg *prometheus.Registry) *watcherMetrics {
	m := &watcherMetrics{
		reg: reg, pushUp: map[chains.Chain]*prometheus.GaugeVec{},
		skipped: &skippedCollector{counts: map[skipKey]uint64{}},
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipnd_chain_polls_total",
			Help: "Watcher polls, by chain and kind (Monero: change_check = monerod asked whether anything changed; " +
				"interval, push, change, safety, pool_again = a wallet poll and what triggered it).",
		}, []string{"chain", "kind"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipnd_chain_push_events_total",
			Help: "Push events from the chain's node (ZMQ topics, resync after a reconnect), by chain and event.",
		}, []string{"chain", "event"}),
	}
	reg.MustRegister(m.polls, m.pushes, m.skipped)
	return m
}

// ChainPoll counts one watcher poll of kind.
func (r *Registry) ChainPoll(c chains.Chain, kind string) {
	if r == nil {
		return
	}
	r.watcher.polls.WithLabelValues(string(c), kind).Inc()
}

// ChainPushEvent counts one push event from the chain's node.
func (r *Registry) ChainPushEvent(c chains.Chain, event string) {
	if r == nil {
		return
	}
	r.watcher.pushes.WithLabelValues(string(c), event).Inc()
}

// ChainTransferSkipped counts a transfer that could not be stored.
func (r *Registry) ChainTransferSkipped(c chains.Chain, reason string) {
	if r == nil {
		return
	}
	s := r.watcher.skipped
	s.mu.Lock()
	s.counts[skipKey{c, reason}]++
	s.mu.Unlock()
}

// ChainPush sets whether the chain's push source (zmq for Monero) works.
func (r *Registry) ChainPush(c chains.Chain, source string, up bool) {
	if r == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	chainVec(r.watcher, r.watcher.pushUp, c, func(l prometheus.Labels) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NamePush, Help: HelpPush, ConstLabels: l}, []string{"source"})
	}).WithLabelValues(source).Set(v)
}
