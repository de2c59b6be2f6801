package coretest

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Costs of a litecoind regtest node, for the closing notes: each
// iteration runs a fresh node; only the named step is timed.
//
//	go test -run '^$' -bench . ./chains/bitcoin/coretest
func BenchmarkLitecoind(b *testing.B) {
	b.Run("start-to-ready", func(b *testing.B) {
		var rss float64
		for b.Loop() {
			n := Start(b, Options{Auth: AuthCookie}) // process start, RPC ready, createwallet
			b.StopTimer()
			rss = rssMiB(b, n.PID())
			n.Stop()
			b.StartTimer()
		}
		b.ReportMetric(rss, "MiB-rss")
	})
	b.Run("generate-101", func(b *testing.B) {
		n := Start(b, Options{})
		for b.Loop() {
			n.Generate(101)
		}
		b.ReportMetric(rssMiB(b, n.PID()), "MiB-rss")
	})
	b.Run("activate-mweb-from-genesis", func(b *testing.B) {
		var rss float64
		for b.Loop() {
			b.StopTimer()
			n := Start(b, Options{})
			b.StartTimer()
			n.ActivateMWEB()
			b.StopTimer()
			rss = rssMiB(b, n.PID())
			n.Stop()
			b.StartTimer()
		}
		b.ReportMetric(rss, "MiB-rss")
	})
	b.Run("stop", func(b *testing.B) { benchStop(b, false) })
	// Core 0.21 waits for an idle keep-alive connection up to
	// -rpcservertimeout (30 s) before it exits.
	b.Run("stop-with-idle-keepalive", func(b *testing.B) { benchStop(b, true) })
}

func benchStop(b *testing.B, idle bool) {
	for b.Loop() {
		b.StopTimer()
		n := Start(b, Options{Auth: AuthCookie})
		n.Fund()
		var keep *http.Client
		if idle {
			keep = &http.Client{Transport: &http.Transport{}}
			c := *n.RPC
			c.HTTP = keep
			if err := c.Call(context.Background(), "getblockcount", nil); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		n.Stop()
		b.StopTimer()
		if keep != nil {
			keep.CloseIdleConnections()
		}
		b.StartTimer()
	}
}

// rssMiB reads the resident set size of pid from /proc.
func rssMiB(b *testing.B, pid int) float64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
