package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ledger"
)

// countingLedger is a real ledger that counts the heartbeat reads.
type countingLedger struct {
	*db.Ledger
	reads atomic.Int64
}

func (c *countingLedger) Heartbeats(ctx context.Context) (map[chains.Chain]ledger.Heartbeat, error) {
	c.reads.Add(1)
	return c.Ledger.Heartbeats(ctx)
}

// TestReadyzCached: a storm of 200 concurrent /readyz reads the ledger
// once (each request read the heartbeats, 200 reads), and a change shows
// once the cache period is over.
func TestReadyzCached(t *testing.T) {
	l := &countingLedger{Ledger: dbtest.Ledger(t, "sqlite", db.Options{})}
	ops, err := NewOps(OpsOptions{Ledger: l, Chains: []chains.Chain{chains.BTC}, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ops.Handler())
	defer srv.Close()
	get := func() int {
		resp, err := srv.Client().Get(srv.URL + "/readyz")
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var wg sync.WaitGroup
	var unready atomic.Int64
	start := time.Now()
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if get() == http.StatusServiceUnavailable {
				unready.Add(1)
			}
		}()
	}
	wg.Wait()
	// One read per cache period the storm lasted (and one that may start
	// as a period ends): 2 on a machine that serves it within a second.
	allowed := int64(time.Since(start)/ReadyCacheFor) + 2
	if n := l.reads.Load(); n > allowed || unready.Load() != 200 {
		t.Fatalf("200 concurrent /readyz in %s: %d heartbeat reads (want at most %d), %d answered 503 (want 200)",
			time.Since(start).Round(time.Millisecond), n, allowed, unready.Load())
	}
	if err := l.Beat(context.Background(), "sync-1", chains.Status{Chain: chains.BTC, State: chains.Synced, Height: 1, NodeHeight: 1}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*ReadyCacheFor, "/readyz ready after a fresh heartbeat", func() bool { return get() == http.StatusOK })
}
