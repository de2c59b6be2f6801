package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/internal/testenv"
)

// btcOnly is ipnd's environment for a Bitcoin-only daemon on SQLite
// following node, with the default poll settings unless extra says
// otherwise.
func btcOnly(t testing.TB, node *btcdtest.Node, listen string, extra ...string) []string {
	return append([]string{
		"IPND_SERVER_LISTEN=" + listen, "IPND_SERVER_API_KEYS=bench-api-key-0123456789", "IPND_SERVER_LOG_LEVEL=info",
		"IPND_DATABASE_DRIVER=sqlite", "IPND_DATABASE_DSN=" + t.TempDir() + "/ipnd.db",
		"IPND_BITCOIN_ENABLED=true", "IPND_BITCOIN_NETWORK=regtest", "IPND_BITCOIN_RPC_HOST=" + node.RPCHost,
		"IPND_BITCOIN_RPC_USER=" + node.User, "IPND_BITCOIN_RPC_PASSWORD=" + node.Pass, "IPND_BITCOIN_XPUB=" + accountTPub(t),
		"IPND_BITCOIN_ADDRESS_TYPE=p2wpkh",
	}, extra...)
}

// procCPU is a process's CPU time (user + system) from /proc.
func procCPU(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * (time.Second / 100)
}

var importLine = regexp.MustCompile(`msg="mempool imported" .*transactions=(\d+) seconds=([0-9.]+) tx_per_s=(\d+)`)

// BenchmarkStartupMempool starts ipnd (Bitcoin only, default settings:
// push by btcd's websocket) against a btcd whose mempool holds N
// transactions and reports the time from the process start to /readyz 200,
// the background import's rate (from its "mempool imported" line) and,
// with nothing new happening, the CPU time per minute of ipnd and of the
// node above the node's own idle cost (over IPND_BENCH_STEADY, 60 s by
// default, at the largest N; also with push = "off").
//
//	make bench  # or: go test ./cmd/ipnd -run '^$' -bench StartupMempool -benchtime 1x
func BenchmarkStartupMempool(b *testing.B) {
	steady := time.Minute
	if d, err := time.ParseDuration(os.Getenv("IPND_BENCH_STEADY")); err == nil && d > 0 {
		steady = d
	}
	for _, n := range []int{2_000, 10_000, 20_000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			node := btcdtest.Start(b, btcdtest.Options{})
			node.Fund()
			node.FillMempool(btcdtest.FillOptions{Count: n})
			var ready, rate float64
			for range b.N {
				logs := &syncBuffer{}
				listen := testenv.FreeAddr(b)
				t0 := time.Now()
				p := startIpnd(b, btcOnly(b, node, listen), logs, "http://"+listen)
				ready += time.Since(t0).Seconds()
				deadline := time.Now().Add(2 * time.Minute)
				var m []string
				for m = importLine.FindStringSubmatch(logs.String()); m == nil; m = importLine.FindStringSubmatch(logs.String()) {
					if time.Now().After(deadline) {
						b.Fatalf("no import line:\n%s", tail(logs.String(), 20))
					}
					time.Sleep(50 * time.Millisecond)
				}
				r, _ := strconv.ParseFloat(m[3], 64)
				rate += r
				if n == 20_000 {
					steadyCPU(b, node, p, steady, "push")
				}
				stopProc(b, p)
			}
			b.ReportMetric(ready/float64(b.N), "ready-s")
			b.ReportMetric(rate/float64(b.N), "import-tx/s")
			if n == 20_000 {
				logs := &syncBuffer{}
				listen := testenv.FreeAddr(b)
				p := startIpnd(b, btcOnly(b, node, listen, "IPND_BITCOIN_PUSH=off"), logs, "http://"+listen)
				waitImported(b, logs)
				steadyCPU(b, node, p, steady, "polling")
				stopProc(b, p)
			}
		})
	}
}

func waitImported(b *testing.B, logs *syncBuffer) {
	deadline := time.Now().Add(2 * time.Minute)
	for !importLine.MatchString(logs.String()) {
		if time.Now().After(deadline) {
			b.Fatalf("no import line:\n%s", tail(logs.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// steadyCPU measures, over d with nothing new, the CPU time of ipnd and of
// the node (less the node's cost over d without ipnd, measured first with
// ipnd stopped by SIGSTOP), both per minute.
func steadyCPU(b *testing.B, node *btcdtest.Node, p *daemonProc, d time.Duration, label string) {
	pid := p.cmd.Process.Pid
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		b.Fatal(err)
	}
	n0 := node.CPUTime()
	time.Sleep(d)
	idle := node.CPUTime() - n0
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		b.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the rounds missed while stopped
	i0, n1 := procCPU(b, pid), node.CPUTime()
	time.Sleep(d)
	ipndCPU, nodeCPU := procCPU(b, pid)-i0, node.CPUTime()-n1
	perMin := func(x time.Duration) float64 { return x.Seconds() * float64(time.Minute) / float64(d) }
	b.ReportMetric(perMin(ipndCPU), label+"-ipnd-cpu-s/min")
	b.ReportMetric(perMin(nodeCPU-idle), label+"-node-extra-cpu-s/min")
	b.ReportMetric(perMin(idle), "node-idle-cpu-s/min")
	fmt.Printf("steady state at 20k (%s): ipnd %.3f CPU s/min, node %.3f CPU s/min above its idle %.3f\n",
		label, perMin(ipndCPU), perMin(nodeCPU-idle), perMin(idle))
}

func stopProc(b *testing.B, p *daemonProc) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
