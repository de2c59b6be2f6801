package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("metrics lack %q", l)
		}
	}
}

func TestRegistryReports(t *testing.T) {
	r := New()
	r.BlocksApplied(chains.BTC, 2)
	r.Change(chains.BTC, chains.Change{DepositsAdded: 2, Notifications: 1})
	r.Change(chains.BTC, chains.Change{DepositsUpdated: 1})
	r.Reorg(chains.BTC, 3) // one reorganisation replacing 3 blocks
	r.Change(chains.BTC, chains.Change{DepositsRemoved: 3})
	r.Reorg(chains.BTC, 1)
	r.BlocksApplied(chains.XMR, 5)
	r.Change(chains.XMR, chains.Change{DepositsAdded: 1})
	r.AttemptDone(ledger.Notification{}, ledger.AttemptResult{Delivered: true, Duration: 20 * time.Millisecond})
	r.AttemptDone(ledger.Notification{}, ledger.AttemptResult{Duration: 2 * time.Second})
	r.AttemptDone(ledger.Notification{}, ledger.AttemptResult{GiveUp: true})
	r.ObserveHTTP("/balance", "GET", 200, time.Millisecond)
	r.ObserveHTTP("/balance", "GET", 200, time.Millisecond)
	r.ObserveHTTP("/balance", "POST", 400, time.Millisecond)
	r.SetChainStatus(func() []chains.Status {
		return []chains.Status{{Chain: chains.BTC, State: chains.Behind, Height: 100, NodeHeight: 104, Behind: 4}}
	})
	r.SetNotificationCounts(func(context.Context) (map[string]int64, error) {
		return map[string]int64{ledger.NotePending: 7, ledger.NoteDelivered: 3}, nil
	})
	text := scrape(t, r)
	wantLines(t, text,
		`ipnd_blocks_processed_total{chain="btc",direction="applied"} 2`,
		`ipnd_blocks_processed_total{chain="btc",direction="reverted"} 4`,
		`ipnd_blocks_processed_total{chain="xmr",direction="applied"} 5`,
		`ipnd_reorgs_total{chain="btc"} 2`,
		`ipnd_reorg_depth_blocks_count{chain="btc"} 2`,
		`ipnd_reorg_depth_blocks_sum{chain="btc"} 4`,
		`ipnd_reorg_depth_blocks_bucket{chain="btc",le="2"} 1`,
		`ipnd_deposits_total{chain="btc",event="added"} 2`,
		`ipnd_deposits_total{chain="btc",event="updated"} 1`,
		`ipnd_deposits_total{chain="btc",event="removed"} 3`,
		`ipnd_deposits_total{chain="xmr",event="added"} 1`,
		`ipnd_notifications_created_total{chain="btc"} 1`,
		`ipnd_delivery_attempts_total{outcome="delivered"} 1`,
		`ipnd_delivery_attempts_total{outcome="failed"} 1`,
		`ipnd_delivery_attempts_total{outcome="gave_up"} 1`,
		`ipnd_delivery_duration_seconds_bucket{outcome="delivered",le="0.025"} 1`,
		`ipnd_delivery_duration_seconds_bucket{outcome="failed",le="1"} 0`,
		`ipnd_delivery_duration_seconds_bucket{outcome="failed",le="2.5"} 1`,
		`ipnd_http_requests_total{code="200",method="GET",route="/balance"} 2`,
		`ipnd_http_requests_total{code="400",method="POST",route="/balance"} 1`,
		`ipnd_http_request_duration_seconds_count{route="/balance"} 3`,
		`ipnd_chain_height{chain="btc"} 100`,
		`ipnd_chain_node_height{chain="btc"} 104`,
		`ipnd_chain_lag_blocks{chain="btc"} 4`,
		`ipnd_chain_state{chain="btc",state="behind"} 1`,
		`ipnd_chain_state{chain="btc",state="synced"} 0`,
		`ipnd_notifications{state="pending"} 7`,
		`ipnd_notifications{state="delivered"} 3`,
		`ipnd_notifications{state="failed"} 0`,
		`ipnd_ledger_scrape_error 0`,
	)
	if !strings.Contains(text, "go_goroutines") {
		t.Error("runtime collector missing")
	}
}

func TestScrapeLedgerError(t *testing.T) {
	r := New()
	r.SetNotificationCounts(func(context.Context) (map[string]int64, error) { return nil, errors.New("down") })
	text := scrape(t, r)
	wantLines(t, text, `ipnd_ledger_scrape_error 1`)
	if strings.Contains(text, "ipnd_notifications{") {
		t.Error("counts reported although the ledger failed")
	}
}

func TestNilRegistry(t *testing.T) {
	var r *Registry
	r.BlocksApplied(chains.BTC, 1)
	r.Reorg(chains.BTC, 2)
	r.Change(chains.BTC, chains.Change{})
	r.AttemptDone(ledger.Notification{}, ledger.AttemptResult{})
	r.ObserveHTTP("/", "GET", 200, 0)
	r.SetChainStatus(nil)
	r.SetNotificationCounts(nil)
}

// TestPaymentLatency: the per-payment histograms, per chain: chain event
// observed → notification made (from the ledger), made → acknowledged and
// observed → acknowledged (from the worker's acknowledgements only).
func TestPaymentLatency(t *testing.T) {
	r := New()
	r.NotificationsCreated(chains.BTC, []time.Duration{3 * time.Millisecond, 7 * time.Millisecond})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := ledger.Notification{Chain: chains.XMR, ObservedAt: t0, CreatedAt: t0.Add(time.Second)}
	r.AttemptDone(n, ledger.AttemptResult{Status: 503, At: t0.Add(2 * time.Second)}) // a failure: no latency
	r.AttemptDone(n, ledger.AttemptResult{Delivered: true, At: t0.Add(31 * time.Second)})
	redelivered := ledger.Notification{Chain: chains.XMR, CreatedAt: t0} // no chain event
	r.AttemptDone(redelivered, ledger.AttemptResult{Delivered: true, At: t0.Add(time.Second)})
	text := scrape(t, r)
	wantLines(t, text,
		`ipnd_payment_notify_seconds_count{chain="btc"} 2`,
		`ipnd_payment_notify_seconds_sum{chain="btc"} 0.01`,
		`ipnd_payment_ack_seconds_count{chain="xmr"} 2`,
		`ipnd_payment_ack_seconds_sum{chain="xmr"} 31`,
		`ipnd_payment_latency_seconds_count{chain="xmr"} 1`,
		`ipnd_payment_latency_seconds_sum{chain="xmr"} 31`,
		`ipnd_payment_latency_seconds_bucket{chain="xmr",le="30"} 0`,
		`ipnd_payment_latency_seconds_bucket{chain="xmr",le="60"} 1`,
	)
}
