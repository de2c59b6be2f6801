package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipnd/ipnd/chains"
)

// watcherMetrics are what a chain watcher reports besides its ledger writes:
// its polls, the push events it heard, the transfers it had to skip and
// whether its push channel is up.
type watcherMetrics struct {
	polls   *prometheus.CounterVec
	pushes  *prometheus.CounterVec
	skipped *prometheus.CounterVec
	pushUp  *prometheus.GaugeVec
}

func newWatcherMetrics(reg *prometheus.Registry) watcherMetrics {
	m := watcherMetrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipnd_chain_polls_total",
			Help: "Watcher polls, by chain and kind (Monero: change_check = monerod asked whether anything changed; " +
				"interval, push, change, safety, pool_again = a wallet poll and what triggered it).",
		}, []string{"chain", "kind"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipnd_chain_push_events_total",
			Help: "Push events from the chain's node (ZMQ topics, resync after a reconnect), by chain and event.",
		}, []string{"chain", "event"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipnd_chain_transfers_skipped_total",
			Help: "Transfers a node or wallet reported that could not be stored (each counted once), by chain and reason.",
		}, []string{"chain", "reason"}),
		pushUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ipnd_chain_push_connected",
			Help: "1 while the chain's push channel (the node's ZMQ publisher) is connected, 0 while it is down " +
				"and the watcher polls at its poll interval; absent when push is not configured.",
		}, []string{"chain"}),
	}
	reg.MustRegister(m.polls, m.pushes, m.skipped, m.pushUp)
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
	r.watcher.skipped.WithLabelValues(string(c), reason).Inc()
}

// ChainPushConnected sets whether the chain's push channel is up.
func (r *Registry) ChainPushConnected(c chains.Chain, up bool) {
	if r == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	r.watcher.pushUp.WithLabelValues(string(c)).Set(v)
}
