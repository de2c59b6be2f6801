package api

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
)

// benchAddresses is the number of watched addresses (IPND_BENCH_ADDRESSES
// overrides the 10,000).
func benchAddresses() int {
	if n, err := strconv.Atoi(os.Getenv("IPND_BENCH_ADDRESSES")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

// seedBalances records n Bitcoin addresses through the ledger, each with
// three deposits (two mined, one in the mempool).
func seedBalances(b *testing.B, h *harness, n int) []string {
	ctx := context.Background()
	addrs := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				idx := uint32(i)
				a, err := h.l.EnsureAddress(ctx, db.Address{Chain: chains.BTC, Address: btcAddr(idx), DerivationIndex: &idx})
				if err != nil {
					errs <- err
					return
				}
				addrs[i] = a.Address
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	const perBlock = 2000
	for round := 0; round < 2; round++ {
		for start := 0; start < n; start += perBlock {
			var ps []db.Payment
			for i := start; i < min(start+perBlock, n); i++ {
				ps = append(ps, pay(fmt.Sprintf("r%d-%d", round, i), addrs[i], uint64(100_000+i)))
			}
			h.mine(chains.BTC, ps...)
		}
	}
	var ps []db.Payment
	for i := 0; i < n; i++ {
		ps = append(ps, pay(fmt.Sprintf("m-%d", i), addrs[i], 777))
		if len(ps) == perBlock || i == n-1 {
			h.mempool(chains.BTC, ps...)
			ps = nil
		}
	}
	return addrs
}

// BenchmarkBalanceMySQL measures GET /balance over loopback HTTP against the
// MySQL ledger with 10,000 watched addresses (three deposits each), with
// concurrent keep-alive clients asking about random addresses. It reports
// requests per second and the 99th percentile latency.
func BenchmarkBalanceMySQL(b *testing.B) {
	h := newHarness(b, harnessOpts{driver: "mysql"})
	start := time.Now()
	addrs := seedBalances(b, h, benchAddresses())
	b.Logf("seeded %d addresses in %s", len(addrs), time.Since(start).Round(time.Millisecond))
	// Sanity: an answer carries the three deposits.
	if m := wantOK(b, h.get("/balance?address="+addrs[len(addrs)/2])); len(m["transactions"].([]any)) != 3 {
		b.Fatalf("seeded balance: %v", m)
	}
	for _, clients := range []int{8, 32} {
		b.Run(fmt.Sprintf("ledger=db/clients=%d", clients), func(b *testing.B) {
			benchBalance(b, h.srv.URL, addrs, clients)
		})
	}
	// The same with the one-round-trip Balance prototype proposed to the
	// ledger (see oneQueryLedger).
	one := oneQueryLedger{h.l}
	if t1, d1, err := one.Balance(context.Background(), chains.BTC, addrs[3], 3); err != nil {
		b.Fatal(err)
	} else if t0, d0, _ := h.l.Balance(context.Background(), chains.BTC, addrs[3], 3); t0 != t1 || len(d0) != len(d1) {
		b.Fatalf("prototype differs: %+v %+v", t0, t1)
	}
	opts := testOptions(one, h.s.o.Chains, harnessOpts{})
	s, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, clients := range []int{8, 32} {
		b.Run(fmt.Sprintf("ledger=onequery/clients=%d", clients), func(b *testing.B) {
			benchBalance(b, srv.URL, addrs, clients)
		})
	}
}

// oneQueryLedger prototypes a Balance that reads the address, the tip and
// the deposits in one round trip (the ledger's takes three), to measure
// what it would give. It is a benchmark aid only; the ledger owns the real
// implementation.
type oneQueryLedger struct{ *db.Ledger }

func (o oneQueryLedger) Balance(ctx context.Context, c chains.Chain, addr string, maxConfirms int) (db.Totals, []db.Deposit, error) {
	rows, err := o.DB().QueryContext(ctx, `SELECT COALESCE((SELECT height FROM chain_state WHERE chain = ?), 0),
  d.id, d.txid, d.out_index, d.address_id, d.amount, d.height, d.block_hash, d.status, d.unlock_time, d.double_spend, d.first_seen, d.updated_at
  FROM addresses a LEFT JOIN deposits d ON d.address_id = a.id WHERE a.chain = ? AND a.address = ? ORDER BY d.id`, string(c), string(c), addr)
	if err != nil {
		return db.Totals{}, nil, err
	}
	defer rows.Close()
	var tip int64
	var ds []db.Deposit
	found := false
	for rows.Next() {
		found = true
		var id, out, aid, height, unlock, first, upd sql.NullInt64
		var amount sql.Null[uint64]
		var txid, hash, status sql.NullString
		var ds2 sql.NullBool
		if err := rows.Scan(&tip, &id, &txid, &out, &aid, &amount, &height, &hash, &status, &unlock, &ds2, &first, &upd); err != nil {
			return db.Totals{}, nil, err
		}
		if !id.Valid {
			continue
		}
		ds = append(ds, db.Deposit{ID: id.Int64, Chain: c, TxID: txid.String, OutIndex: uint32(out.Int64), AddressID: aid.Int64,
			Address: addr, Amount: amount.V, Height: height.Int64, BlockHash: hash.String, Status: status.String,
			UnlockTime: uint64(unlock.Int64), DoubleSpend: ds2.Bool,
			FirstSeen: time.UnixMicro(first.Int64).UTC(), UpdatedAt: time.UnixMicro(upd.Int64).UTC()})
	}
	if err := rows.Err(); err != nil {
		return db.Totals{}, nil, err
	}
	if !found {
		return db.Totals{}, nil, fmt.Errorf("address: %w", db.ErrNotFound)
	}
	t, err := db.SumTotals(ds, tip, maxConfirms, time.Now())
	return t, ds, err
}

func benchBalance(b *testing.B, base string, addrs []string, clients int) {
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	cpu0, db0 := processCPU(), mysqldCPU()
	b.ResetTimer()
	began := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			req, _ := http.NewRequest("GET", base+"/balance", nil)
			req.Header.Set("Authorization", "Bearer "+testKey)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				q := "address=" + addrs[(int(i)*7919+w)%len(addrs)]
				r := req.Clone(context.Background())
				r.URL.RawQuery = q
				t0 := time.Now()
				resp, err := c.Do(r)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		}(w)
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
	// CPU per request, which other load on the machine does not change:
	// this process (API server and load clients) and the database server.
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "go_cpu_us/req")
	if db0 >= 0 && db1 >= 0 {
		b.ReportMetric(float64((db1-db0).Microseconds())/float64(b.N), "mysqld_cpu_us/req")
	}
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// mysqldCPU is the local MySQL/MariaDB server's CPU time, -1 if not found.
func mysqldCPU() time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, f := range dirs {
		comm, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if name := strings.TrimSpace(string(comm)); name != "mariadbd" && name != "mysqld" {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(f), "stat"))
		if err != nil {
			return -1
		}
		// Fields after the ")" that ends the command name: utime and stime
		// are the 12th and 13th, in clock ticks (100 per second).
		rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(rest) < 13 {
			return -1
		}
		ut, _ := strconv.ParseInt(rest[11], 10, 64)
		st, _ := strconv.ParseInt(rest[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
	return -1
}
