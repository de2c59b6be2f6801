package api

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ipn"
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
				a, err := h.l.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: btcAddr(idx), DerivationIndex: &idx})
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
			var ps []chains.Payment
			for i := start; i < min(start+perBlock, n); i++ {
				ps = append(ps, pay(fmt.Sprintf("r%d-%d", round, i), addrs[i], uint64(100_000+i)))
			}
			h.mine(chains.BTC, ps...)
		}
	}
	var ps []chains.Payment
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

// wrkScript rotates GET /balance over the addresses listed one per line in
// the file named by the first script argument, each wrk thread starting at
// a different place, with the API key; done prints one parseable line.
const wrkScript = `
local addrs = {}
for line in io.lines(wrk_addresses_file) do addrs[#addrs + 1] = line end
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local i = 0
function init(args)
  i = (id or 0) * 7919
  wrk.headers["Authorization"] = "Bearer " .. wrk_api_key
end
function request()
  i = i + 1
  return wrk.format("GET", "/balance?address=" .. addrs[(i % #addrs) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("IPND requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
`

// BenchmarkBalanceWrk measures GET /balance the way a real client does:
// the API server (Server.Serve, on a loopback port) runs in this process on
// the MySQL ledger with 10,000 watched addresses (three deposits each), and
// wrk, a separate process, loads it with keep-alive connections rotating
// over the addresses. Sub-benchmarks reach MySQL over TCP (the test server's
// DSN) and over the unix socket (IPND_BENCH_MYSQL_SOCKET, default
// /run/mysqld/mysqld.sock). Each invocation is one wrk run of
// IPND_WRK_ARGS (default "-t2 -c16 -d15s"), whatever b.N is, so run it with
// -benchtime 1x (and -count 2 to repeat). IPND_BENCH_UNIX_FIRST=1 runs the
// socket first; IPND_BENCH_PPROF_DIR=dir writes a CPU profile of the server
// during each wrk run there:
//
//	go test ./api -run XXX -bench BalanceWrk -benchtime 1x -count 2
//
// It reports wrk's requests/s and latency percentiles, and the CPU per
// request of the server (this process), mysqld and wrk.
func BenchmarkBalanceWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	dsn := dbtest.MySQLDSN(b)
	h := &harness{t: b, l: dbtest.Open(b, "mysql", dsn, db.Options{Payload: ipn.Payload}), tip: map[chains.Chain]int64{}}
	start := time.Now()
	addrs := seedBalances(b, h, benchAddresses())
	b.Logf("seeded %d addresses in %s", len(addrs), time.Since(start).Round(time.Millisecond))
	dir := b.TempDir()
	addrFile := filepath.Join(dir, "addresses.txt")
	if err := os.WriteFile(addrFile, []byte(strings.Join(addrs, "\n")+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	script := filepath.Join(dir, "balance.lua")
	lua := fmt.Sprintf("wrk_addresses_file = %q\nwrk_api_key = %q\n", addrFile, testKey) + wrkScript
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		b.Fatal(err)
	}
	sock := os.Getenv("IPND_BENCH_MYSQL_SOCKET")
	if sock == "" {
		sock = "/run/mysqld/mysqld.sock"
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	nets := []struct{ name, dsn string }{{"tcp", dsn}}
	if _, err := os.Stat(sock); err == nil && cfg.Net == "tcp" && strings.HasPrefix(cfg.Addr, "127.0.0.1:") {
		u := cfg.Clone()
		u.Net, u.Addr = "unix", sock
		nets = append(nets, struct{ name, dsn string }{"unix", u.FormatDSN()})
	} else {
		b.Logf("no unix socket comparison: %s missing or the MySQL server is not local", sock)
	}
	if os.Getenv("IPND_BENCH_UNIX_FIRST") == "1" {
		slices.Reverse(nets)
	}
	for _, n := range nets {
		b.Run("mysql="+n.name, func(b *testing.B) {
			l := dbtest.Open(b, "mysql", n.dsn, db.Options{Payload: ipn.Payload})
			benchWrk(b, wrk, script, l, addrs[len(addrs)/2])
		})
	}
}

// benchWrk serves the API on l and runs wrk once against it.
func benchWrk(b *testing.B, wrk, script string, l *db.Ledger, probe string) {
	s, err := New(testOptions(l, map[chains.Chain]Chain{chains.BTC: newFake(chains.BTC, l)}, harnessOpts{}))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			b.Errorf("serve: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()
	// Sanity (and warm-up of the connection pool): an answer carries the
	// three seeded deposits.
	req, _ := http.NewRequest("GET", base+"/balance?address="+probe, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(string(body), `"txid"`) != 3 {
		b.Fatalf("probe: %d %s", resp.StatusCode, body)
	}
	args := strings.Fields(os.Getenv("IPND_WRK_ARGS"))
	if len(args) == 0 {
		args = []string{"-t2", "-c16", "-d15s"}
	}
	args = append(args, "--latency", "-s", script, base)
	if dir := os.Getenv("IPND_BENCH_PPROF_DIR"); dir != "" {
		f, err := os.Create(filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_")+".cpu.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	load0 := loadAvg()
	cpu0, db0 := processCPU(), mysqldCPU()
	busy0, soft0 := machineBusy()
	began := time.Now()
	b.ResetTimer()
	cmd := exec.Command(wrk, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	b.StopTimer()
	cpu1, db1 := processCPU(), mysqldCPU()
	busy1, soft1 := machineBusy()
	elapsed := time.Since(began)
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out.String())
	}
	b.Logf("wrk %s (loadavg before: %s, after: %s)\n%s", strings.Join(args[:len(args)-4], " "), load0, loadAvg(), out.String())
	var reqs, durUS, p50, p90, p99, maxUS, errs, non2xx int64
	i := strings.Index(out.String(), "IPND ")
	if i < 0 {
		b.Fatalf("no result line from wrk:\n%s", out.String())
	}
	if _, err := fmt.Sscanf(out.String()[i:], "IPND requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d non2xx=%d",
		&reqs, &durUS, &p50, &p90, &p99, &maxUS, &errs, &non2xx); err != nil {
		b.Fatalf("wrk result line: %v\n%s", err, out.String())
	}
	if reqs == 0 || errs > 0 || non2xx > 0 {
		b.Fatalf("wrk: %d requests, %d socket errors, %d non-2xx answers", reqs, errs, non2xx)
	}
	b.ReportMetric(float64(reqs)/(float64(durUS)/1e6), "req/s")
	b.ReportMetric(float64(p50)/1000, "p50_ms")
	b.ReportMetric(float64(p99)/1000, "p99_ms")
	b.ReportMetric(float64(maxUS)/1000, "max_ms")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(reqs), "server_cpu_us/req")
	if db0 >= 0 && db1 >= 0 {
		b.ReportMetric(float64((db1-db0).Microseconds())/float64(reqs), "mysqld_cpu_us/req")
	}
	wrkCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	b.ReportMetric(float64(wrkCPU.Microseconds())/float64(reqs), "wrk_cpu_us/req")
	if soft0 >= 0 && soft1 >= 0 {
		b.ReportMetric(float64((soft1-soft0).Microseconds())/float64(reqs), "softirq_cpu_us/req")
	}
	// What the rest of the machine used meanwhile (other processes, steal),
	// in percent of all cores: the noise in the figures above.
	if busy0 >= 0 && busy1 >= 0 && db0 >= 0 && db1 >= 0 {
		others := (busy1 - busy0) - (cpu1 - cpu0) - (db1 - db0) - wrkCPU
		b.ReportMetric(100*others.Seconds()/(elapsed.Seconds()*float64(runtime.NumCPU())), "others_cpu_%")
	}
}

// machineBusy is the CPU time all cores spent on anything but idle, I/O
// wait and softirqs since boot (time stolen by the hypervisor included),
// and apart the softirq time (mostly loopback networking here, which the
// kernel does not charge to the processes); -1 if /proc/stat is unreadable.
func machineBusy() (busy, softirq time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1, -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return -1, -1
	}
	var ticks, soft int64
	for i, v := range f[1:9] {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch i {
		case 3, 4: // idle, iowait
		case 6:
			soft = n
		default:
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond, time.Duration(soft) * 10 * time.Millisecond
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
