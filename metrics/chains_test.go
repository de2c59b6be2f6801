package metrics

import (
	"testing"

	"github.com/ipnd/ipnd/chains"
)

func TestWatcherMetrics(t *testing.T) {
	r := New()
	r.ChainPoll(chains.XMR, "change_check")
	r.ChainPoll(chains.XMR, "change_check")
	r.ChainPoll(chains.XMR, "push")
	r.ChainPushEvent(chains.XMR, "json-minimal-txpool_add")
	r.ChainTransferSkipped(chains.XMR, "amount_out_of_range")
	r.ChainPushConnected(chains.XMR, true)
	r.ChainPushConnected(chains.XMR, false)
	wantLines(t, scrape(t, r),
		`ipnd_chain_polls_total{chain="xmr",kind="change_check"} 2`,
		`ipnd_chain_polls_total{chain="xmr",kind="push"} 1`,
		`ipnd_chain_push_events_total{chain="xmr",event="json-minimal-txpool_add"} 1`,
		`ipnd_chain_transfers_skipped_total{chain="xmr",reason="amount_out_of_range"} 1`,
		`ipnd_chain_push_connected{chain="xmr"} 0`,
	)
	var nilReg *Registry // components may run without metrics
	nilReg.ChainPoll(chains.XMR, "x")
	nilReg.ChainPushEvent(chains.XMR, "x")
	nilReg.ChainTransferSkipped(chains.XMR, "x")
	nilReg.ChainPushConnected(chains.XMR, true)
}
