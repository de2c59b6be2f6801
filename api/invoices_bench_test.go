package api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreateInvoicesMySQL: POST /invoices from 50 concurrent clients
// on a MySQL ledger, with the Bitcoin adapter's real derivation: each
// request allocates an address, subscribes a URL and records the invoice
// with its order_id and metadata. Reports throughput and latency
// percentiles (measured by the clients, over HTTP on loopback).
func BenchmarkCreateInvoicesMySQL(b *testing.B) {
	h := newRealHarness(b, "mysql")
	const clients = 50
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	lat := make([]time.Duration, b.N)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	run := fmt.Sprint(time.Now().UnixNano())
	cpu0, db0 := processCPU(), mysqldCPU()
	b.ResetTimer()
	began := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				body := fmt.Sprintf(`{"chain":"btc","amount":"0.0015","expires_in":"30m","order_id":"bench-%s-%d",`+
					`"description":"Order %d","url":"https://1.1.1.1/ipn","max_confirms":2,"metadata":{"cart":%d,"customer":"c-%d"}}`,
					run, i, i, i, i%997)
				req, _ := http.NewRequest("POST", h.srv.URL+"/invoices", bytes.NewReader([]byte(body)))
				req.Header.Set("Authorization", "Bearer "+testKey)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != http.StatusCreated {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	cpu1, db1 := processCPU(), mysqldCPU()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(p(0.50), "p50_ms")
	b.ReportMetric(p(0.99), "p99_ms")
	b.ReportMetric(p(1), "max_ms")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "go_cpu_us/req")
	if db0 >= 0 && db1 >= 0 {
		b.ReportMetric(float64((db1-db0).Microseconds())/float64(b.N), "mysqld_cpu_us/req")
	}
}
