package ipn

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ledger"
)

// benchBacklog is the number of pending notifications drained per run
// (IPND_BENCH_BACKLOG overrides the 100,000).
func benchBacklog() int {
	if v, err := strconv.Atoi(os.Getenv("IPND_BENCH_BACKLOG")); err == nil && v > 0 {
		return v
	}
	return 100000
}

// echoServer is a lean echo receiver (no recording) for the benchmark.
func echoServer(tb testing.TB) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Address     string `json:"address"`
			Confirmed   string `json:"confirmed"`
			Unconfirmed string `json:"unconfirmed"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(in)
	}))
	tb.Cleanup(s.Close)
	return s
}

// seedBacklog writes n addresses, subscriptions and one pending notification
// each straight into the ledger's tables (setup only: creating them one
// ledger transaction at a time would take longer than the drain).
func seedBacklog(tb testing.TB, l *db.Ledger, url string, n int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UnixMicro()
	if _, err := l.DB().ExecContext(ctx, `INSERT INTO endpoints (id, url, url_hash, secret, created_at, updated_at)
  VALUES (1, ?, ?, 'ipnsec_bench', ?, ?)`, url, fmt.Sprintf("%064x", 0), now, now); err != nil {
		tb.Fatalf("seed endpoint: %v", err)
	}
	const chunk = 500
	for start := 1; start <= n; start += chunk {
		end := min(start+chunk-1, n)
		err := l.ExecTx(ctx, func(tx *sql.Tx) error {
			var a, s, no strings.Builder
			var aa, sa, na []any
			for i := start; i <= end; i++ {
				addr := fmt.Sprintf("bcrt1qbench%08d", i)
				sep := ","
				if i == start {
					sep = ""
				}
				a.WriteString(sep + "(?,?,?,?,?)")
				aa = append(aa, i, "btc", addr, i, now)
				s.WriteString(sep + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
				sa = append(sa, i, "btc", i, 1, url, fmt.Sprintf("%064x", 0), 1, "", "json", 1, 0, uint64(i), now, now)
				sub := ledger.Subscription{ID: int64(i), Chain: chains.BTC, Address: addr, URL: url, MaxConfirms: 1, Format: "json"}
				body, ct, err := Payload(ledger.NotificationData{ID: int64(i), Subscription: sub,
					Totals: ledger.Totals{Unconfirmed: uint64(i), Height: 100}, CreatedAt: time.UnixMicro(now)})
				if err != nil {
					return err
				}
				no.WriteString(sep + "(?,?,?,?,?,?,?,?,?,?,?)")
				na = append(na, i, i, 0, uint64(i), 100, body, ct, ledger.NotePending, now, now, now)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO addresses (id, chain, address, derivation_index, created_at) VALUES `+a.String(), aa...); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (id, chain, address_id, endpoint_id, url, url_hash, max_confirms, legacy_secret, format,
  active, last_confirmed, last_unconfirmed, created_at, updated_at) VALUES `+s.String(), sa...); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO notifications (id, subscription_id, confirmed, unconfirmed, height, body, content_type,
  state, next_attempt_at, created_at, updated_at) VALUES `+no.String(), na...)
			return err
		})
		if err != nil {
			tb.Fatalf("seed backlog: %v", err)
		}
	}
}

// timedLedger measures the time spent in the ledger calls; it passes the
// ledger's clock and Defer through (*db.Ledger has them).
type timedLedger struct {
	Ledger
	claims, claimNs, records, recordNs atomic.Int64
}

func (t *timedLedger) Now() time.Time { return t.Ledger.(Clock).Now() }

func (t *timedLedger) Defer(ctx context.Context, n ledger.Notification, after time.Duration) error {
	return t.Ledger.(Deferrer).Defer(ctx, n, after)
}

func (t *timedLedger) ClaimDue(ctx context.Context, owner string, lease time.Duration, limit int) ([]ledger.Notification, error) {
	s := time.Now()
	ns, err := t.Ledger.ClaimDue(ctx, owner, lease, limit)
	t.claims.Add(1)
	t.claimNs.Add(int64(time.Since(s)))
	return ns, err
}

func (t *timedLedger) RecordAttempt(ctx context.Context, n ledger.Notification, res ledger.AttemptResult) error {
	s := time.Now()
	err := t.Ledger.RecordAttempt(ctx, n, res)
	t.records.Add(1)
	t.recordNs.Add(int64(time.Since(s)))
	return err
}

// timedBatchLedger is timedLedger for a ledger with RecordAttempts.
type timedBatchLedger struct {
	*timedLedger
	br BatchRecorder
}

func (t timedBatchLedger) RecordAttempts(ctx context.Context, ns []ledger.Notification, res []ledger.AttemptResult) ([]error, error) {
	s := time.Now()
	errs, err := t.br.RecordAttempts(ctx, ns, res)
	t.records.Add(1)
	t.recordNs.Add(int64(time.Since(s)))
	return errs, err
}

func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkDrainBacklog drains a backlog of pending notifications (default
// 100,000, one per subscription, all to one receiver) to a local echo
// receiver and reports acknowledged notifications per second and the memory
// during the drain: with the [ipn] defaults as they are (workers, per_host,
// lease, poll interval), and with 16 and 64 workers all allowed on the one
// host.
func BenchmarkDrainBacklog(b *testing.B) {
	for _, driver := range dbtest.Drivers {
		for _, workers := range []int{0, 16, 64} {
			name := fmt.Sprintf("%s/workers=%d", driver, workers)
			if workers == 0 {
				name = driver + "/defaults"
			}
			b.Run(name, func(b *testing.B) {
				n := benchBacklog()
				l := dbtest.Ledger(b, driver, db.Options{Payload: Payload})
				srv := echoServer(b)
				seedBacklog(b, l, srv.URL+"/ipn", n)
				var delivered, failed atomic.Int64
				allDone := make(chan struct{})
				var once sync.Once
				tl := &timedLedger{Ledger: l}
				var wl Ledger = tl
				if br, ok := Ledger(l).(BatchRecorder); ok {
					wl = timedBatchLedger{tl, br}
				}
				o := OptionsFromConfig(config.Default().IPN, "bench", nil)
				if workers > 0 {
					o.Workers, o.PerHost = workers, workers
				}
				o.AllowPrivate = true
				o.Observer = ObserverFunc(func(_ ledger.Notification, res ledger.AttemptResult) {
					if !res.Delivered {
						failed.Add(1)
					} else if delivered.Add(1) == int64(n) {
						once.Do(func() { close(allDone) })
					}
				})
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heap0, rss0 := float64(ms.HeapInuse)/(1<<20), rssMB()
				var maxHeap, maxRSS float64
				var samples []string
				stopSampling := make(chan struct{})
				sampled := make(chan struct{})
				go func() {
					defer close(sampled)
					tick := time.NewTicker(time.Second)
					defer tick.Stop()
					for {
						select {
						case <-stopSampling:
							return
						case <-tick.C:
							var m runtime.MemStats
							runtime.ReadMemStats(&m)
							h, r := float64(m.HeapInuse)/(1<<20), rssMB()
							maxHeap, maxRSS = max(maxHeap, h), max(maxRSS, r)
							samples = append(samples, fmt.Sprintf("%d:%.0f/%.0f", delivered.Load(), h, r))
						}
					}
				}()
				b.ResetTimer()
				start := time.Now()
				ctx, cancel := context.WithCancel(context.Background())
				w := NewWorker(wl, o)
				stopped := make(chan struct{})
				go func() { defer close(stopped); w.Run(ctx) }()
				select {
				case <-allDone:
				case <-time.After(20 * time.Minute):
					b.Errorf("drain did not finish: %d delivered, %d failed", delivered.Load(), failed.Load())
				}
				elapsed := time.Since(start)
				b.StopTimer()
				cancel()
				<-stopped
				close(stopSampling)
				<-sampled
				if failed.Load() != 0 {
					b.Errorf("%d failed attempts", failed.Load())
				}
				var left int64
				if err := l.DB().QueryRow(`SELECT COUNT(*) FROM notifications WHERE state <> ?`, ledger.NoteDelivered).Scan(&left); err != nil || left != 0 {
					b.Errorf("%d notifications not delivered (%v)", left, err)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "acks/s")
				b.ReportMetric(maxHeap, "maxheap-MB")
				b.ReportMetric(maxRSS, "maxRSS-MB")
				if c := tl.claims.Load(); c > 0 {
					b.ReportMetric(float64(tl.claimNs.Load())/float64(c)/1e6, "claim-ms")
				}
				if r := tl.records.Load(); r > 0 {
					b.ReportMetric(float64(tl.recordNs.Load())/float64(r)/1e6, "record-call-ms")
					b.ReportMetric(float64(n)/float64(r), "acks/record-call")
				}
				b.Logf("%s workers=%d per_host=%d: %d acknowledged in %v; heap %.0f MB / RSS %.0f MB before; samples delivered:heapMB/rssMB %v",
					driver, o.Workers, o.PerHost, n, elapsed.Round(time.Millisecond), heap0, rss0, samples)
			})
		}
	}
}

// BenchmarkSendOnly is the HTTP path alone (no ledger): the ceiling the
// ledger calls are measured against.
func BenchmarkSendOnly(b *testing.B) {
	srv := echoServer(b)
	s := NewSender(SenderOptions{Version: "bench", Timeout: 10 * time.Second, AllowPrivate: true, MaxIdlePerHost: 16})
	n := note(b, srv.URL, "json")
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if out := s.Send(context.Background(), n, 1); !out.Delivered {
				b.Errorf("not delivered: %+v", out)
			}
		}
	})
}

// BenchmarkIdleLook compares what an idle worker does at each poll
// interval when nothing is due (one notification waits in an hour's
// back-off): claiming (ClaimDue, a transaction) against asking when the
// next one is due (NextDue, one read), on SQLite and MySQL. The worker
// looks 5 times a second at the default poll_interval.
func BenchmarkIdleLook(b *testing.B) {
	for _, driver := range dbtest.Drivers {
		b.Run(driver, func(b *testing.B) {
			l := dbtest.Ledger(b, driver, db.Options{Payload: Payload})
			e := &ledgerEnv{driver: driver, l: l}
			if err := l.SetStart(bg, chains.BTC, chains.Block{Height: 100, Hash: fmt.Sprintf("%064x", 100)}); err != nil {
				b.Fatal(err)
			}
			sub := e.subscribe(b, "http://receiver.example/", "json")
			e.pay(b, sub, "t1", 1)
			ns, err := l.ClaimDue(bg, "bench", time.Minute, 1)
			if err != nil || len(ns) != 1 {
				b.Fatalf("claim: %v %d", err, len(ns))
			}
			if err := l.RecordAttempt(bg, ns[0], ledger.AttemptResult{Status: 500, RetryAfter: time.Hour, At: time.Now()}); err != nil {
				b.Fatal(err)
			}
			b.Run("claim", func(b *testing.B) {
				for range b.N {
					if ns, err := l.ClaimDue(bg, "bench", time.Minute, 64); err != nil || len(ns) != 0 {
						b.Fatalf("claim: %v %d", err, len(ns))
					}
				}
			})
			b.Run("next_due", func(b *testing.B) {
				for range b.N {
					if _, ok, err := l.NextDue(bg); err != nil || !ok {
						b.Fatalf("next due: %v %v", err, ok)
					}
				}
			})
		})
	}
}
