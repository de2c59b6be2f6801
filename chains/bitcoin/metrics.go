package bitcoin

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/metrics"
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

// lastImport is the size and duration of the last finished background
// import of a large mempool (zero before one).
func (w *Watcher) lastImport() (n int, d time.Duration) {
	return int(w.stats.importN.Load()), time.Duration(w.stats.importNanos.Load())
}

// undecodableTxs counts the mempool transactions skipped because they do not
// decode.
func (w *Watcher) undecodableTxs() uint64 { return w.stats.undecodable.Load() }

// collector exports one watcher's metrics. Its descriptions carry the
// chain as a constant label, so that each Bitcoin-family chain's watcher
// registers its own collector.
type collector struct {
	w                   *Watcher
	push, fetched, back *prometheus.Desc
}

// Collector exports the watcher's own metrics (push or polling, skipped
// transactions, the mempool import). The undecodable mempool transactions
// are ipnd_chain_transfers_skipped_total{reason="undecodable"}, whose
// description the metrics registry registers for every chain
// (metrics.DescTransfersSkipped), so it is not described here.
func (w *Watcher) Collector() prometheus.Collector {
	chain := prometheus.Labels{"chain": string(w.fam.Chain)}
	return collector{
		w:    w,
		push: prometheus.NewDesc(metrics.NamePush, metrics.HelpPush, []string{"source"}, chain),
		fetched: prometheus.NewDesc("ipnd_chain_mempool_fetched_total",
			"Mempool transactions fetched from the node.", nil, chain),
		back: prometheus.NewDesc("ipnd_chain_mempool_backlog",
			"Mempool transactions waiting to be fetched (a background import).", nil, chain),
	}
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.push, c.fetched, c.back} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.w.stats
	push, source := 0.0, c.w.push.name()
	if s.push.Load() {
		push = 1
	}
	if source == "" {
		source = "none"
	}
	ch <- prometheus.MustNewConstMetric(c.push, prometheus.GaugeValue, push, source)
	ch <- prometheus.MustNewConstMetric(metrics.DescTransfersSkipped, prometheus.CounterValue, float64(s.undecodable.Load()),
		string(c.w.fam.Chain), metrics.ReasonUndecodable)
	ch <- prometheus.MustNewConstMetric(c.fetched, prometheus.CounterValue, float64(s.fetched.Load()))
	ch <- prometheus.MustNewConstMetric(c.back, prometheus.GaugeValue, float64(s.backlog.Load()))
}
