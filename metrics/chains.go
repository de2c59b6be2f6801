package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipnd/ipnd/chains"
)

// The metrics every chain's watcher exports under one name and one set of
// labels. Package metrics owns them for Monero; a Bitcoin-family watcher
// exports them from its own collector (bitcoin.Watcher.Collector). The
// Prometheus registry accepts one name from several collectors only with
// the same help text and the same constant/variable split of the labels:
// chain is a constant label (one collector per chain), source and reason
// are variable.
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

	mu      sync.Mutex
	skipped map[chains.Chain]*prometheus.CounterVec // NameTransfersSkipped, per chain
	pushUp  map[chains.Chain]*prometheus.GaugeVec   // NamePush, per chain
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
		reg: reg, skipped: map[chains.Chain]*prometheus.CounterVec{}, pushUp: map[chains.Chain]*prometheus.GaugeVec{},
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
	reg.MustRegister(m.polls, m.pushes)
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
	chainVec(r.watcher, r.watcher.skipped, c, func(l prometheus.Labels) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameTransfersSkipped, Help: HelpTransfersSkipped, ConstLabels: l},
			[]string{"reason"})
	}).WithLabelValues(reason).Inc()
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
