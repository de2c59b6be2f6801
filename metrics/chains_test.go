package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipnd/ipnd/chains"
)

func TestWatcherMetrics(t *testing.T) {
	r := New()
	r.ChainPoll(chains.XMR, "change_check")
	r.ChainPoll(chains.XMR, "change_check")
	r.ChainPoll(chains.XMR, "push")
	r.ChainPushEvent(chains.XMR, "json-minimal-txpool_add")
	r.ChainTransferSkipped(chains.XMR, "amount_out_of_range")
	r.ChainPush(chains.XMR, "zmq", true)
	r.ChainPush(chains.XMR, "zmq", false)
	wantLines(t, scrape(t, r),
		`ipnd_chain_polls_total{chain="xmr",kind="change_check"} 2`,
		`ipnd_chain_polls_total{chain="xmr",kind="push"} 1`,
		`ipnd_chain_push_events_total{chain="xmr",event="json-minimal-txpool_add"} 1`,
		`ipnd_chain_transfers_skipped_total{chain="xmr",reason="amount_out_of_range"} 1`,
		`ipnd_chain_push{chain="xmr",source="zmq"} 0`,
	)
	var nilReg *Registry // components may run without metrics
	nilReg.ChainPoll(chains.XMR, "x")
	nilReg.ChainPushEvent(chains.XMR, "x")
	nilReg.ChainTransferSkipped(chains.XMR, "x")
	nilReg.ChainPush(chains.XMR, "zmq", true)
}

// bitcoinLike exports the push gauge and the skipped counter the way a
// Bitcoin-family watcher's own collector does (bitcoin.Watcher.Collector):
// the chain as a constant label.
type bitcoinLike struct{ push *prometheus.Desc }

func (b bitcoinLike) Describe(ch chan<- *prometheus.Desc) { ch <- b.push }
func (b bitcoinLike) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(b.push, prometheus.GaugeValue, 1, "websocket")
	ch <- prometheus.MustNewConstMetric(DescTransfersSkipped, prometheus.CounterValue, 3, "btc", ReasonUndecodable)
}

// One name and one set of labels per watcher metric across chains: a
// Bitcoin watcher's collector registers next to Monero's push series, its
// undecodable counter joins the skipped transfers (DescTransfersSkipped) with those
// the ledger's writes report for any chain, and every chain appears under
// ipnd_chain_push and ipnd_chain_transfers_skipped_total.
func TestWatcherMetricsOneNameAcrossChains(t *testing.T) {
	r := New()
	r.ChainPush(chains.XMR, "zmq", true)
	r.ChainTransferSkipped(chains.XMR, "bad_txid")
	btc := prometheus.Labels{"chain": "btc"}
	if err := r.Register(bitcoinLike{push: prometheus.NewDesc(NamePush, HelpPush, []string{"source"}, btc)}); err != nil {
		t.Fatal(err)
	}
	r.ChainTransferSkipped(chains.BTC, "amount_out_of_range") // from a ledger write
	wantLines(t, scrape(t, r),
		`ipnd_chain_push{chain="btc",source="websocket"} 1`,
		`ipnd_chain_push{chain="xmr",source="zmq"} 1`,
		`ipnd_chain_transfers_skipped_total{chain="btc",reason="undecodable"} 3`,
		`ipnd_chain_transfers_skipped_total{chain="btc",reason="amount_out_of_range"} 1`,
		`ipnd_chain_transfers_skipped_total{chain="xmr",reason="bad_txid"} 1`,
	)
}
