package bitcoin

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipnd/ipnd/chains"
)

// stats are the watcher's counters, exported as Prometheus metrics by
// Collector.
type stats struct {
	chain       chains.Chain
	push        atomic.Bool
	undecodable atomic.Uint64 // mempool transactions skipped
	fetched     atomic.Uint64 // mempool transactions fetched
	backlog     atomic.Int64  // mempool transactions waiting to be fetched
	importN     atomic.Int64  // transactions of the last finished large import
	importNanos atomic.Int64  // its duration
}

func newStats(c chains.Chain) *stats { return &stats{chain: c} }

func (s *stats) setImport(n int, d time.Duration) {
	s.importN.Store(int64(n))
	s.importNanos.Store(int64(d))
}

// LastImport is the size and duration of the last finished background
// import of a large mempool (zero before one).
func (w *Watcher) LastImport() (n int, d time.Duration) {
	return int(w.stats.importN.Load()), time.Duration(w.stats.importNanos.Load())
}

// Undecodable counts the mempool transactions skipped because they do not
// decode.
func (w *Watcher) Undecodable() uint64 { return w.stats.undecodable.Load() }

var (
	descPush = prometheus.NewDesc("ipnd_chain_push",
		"1 while a push source (btcd websocket, bitcoind ZMQ) works, 0 while the watcher polls.", []string{"chain", "source"}, nil)
	descUndecodable = prometheus.NewDesc("ipnd_chain_undecodable_transactions_total",
		"Mempool transactions skipped because they do not decode.", []string{"chain"}, nil)
	descFetched = prometheus.NewDesc("ipnd_chain_mempool_fetched_total",
		"Mempool transactions fetched from the node.", []string{"chain"}, nil)
	descBacklog = prometheus.NewDesc("ipnd_chain_mempool_backlog",
		"Mempool transactions waiting to be fetched (a background import).", []string{"chain"}, nil)
)

// Collector exports the watcher's own metrics (push or polling, skipped
// transactions, the mempool import).
func (w *Watcher) Collector() prometheus.Collector { return collector{w} }

type collector struct{ w *Watcher }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPush, descUndecodable, descFetched, descBacklog} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s, name := c.w.stats, string(c.w.fam.Chain)
	push, source := 0.0, c.w.push.name()
	if s.push.Load() {
		push = 1
	}
	if source == "" {
		source = "none"
	}
	ch <- prometheus.MustNewConstMetric(descPush, prometheus.GaugeValue, push, name, source)
	ch <- prometheus.MustNewConstMetric(descUndecodable, prometheus.CounterValue, float64(s.undecodable.Load()), name)
	ch <- prometheus.MustNewConstMetric(descFetched, prometheus.CounterValue, float64(s.fetched.Load()), name)
	ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(s.backlog.Load()), name)
}
