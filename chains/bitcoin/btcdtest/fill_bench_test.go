package btcdtest

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkFillMempool fills a fresh node's mempool with N transactions
// (one op is one whole fill: PrepareFill and Send) and reports the
// submission rate, the node's CPU time for the submission and its RSS
// after the fill.
//
//	go test ./chains/bitcoin/btcdtest -run '^$' -bench FillMempool -benchtime 1x
func BenchmarkFillMempool(b *testing.B) {
	cases := []struct {
		count    int
		unsigned bool
	}{{2_000, false}, {10_000, false}, {20_000, false}, {100_000, false}, {20_000, true}, {100_000, true}}
	for _, c := range cases {
		name := fmt.Sprintf("N=%d", c.count)
		if c.unsigned {
			name += "/unsigned"
		}
		b.Run(name, func(b *testing.B) {
			var prepare, submit, nodeCPU time.Duration
			var rss int64
			for range b.N {
				b.StopTimer()
				n := Start(b, Options{})
				n.Fund()
				b.StartTimer()
				f := n.PrepareFill(FillOptions{Count: c.count, Unsigned: c.unsigned})
				cpu := n.CPUTime()
				f.Send()
				b.StopTimer()
				nodeCPU += n.CPUTime() - cpu
				prepare += f.Prepare
				submit += f.Submit
				rss = max(rss, n.RSS())
				n.Stop()
				b.StartTimer()
			}
			runs := float64(b.N)
			b.ReportMetric(float64(c.count)*runs/submit.Seconds(), "submit-tx/s")
			b.ReportMetric(prepare.Seconds()/runs, "prepare-s")
			b.ReportMetric(submit.Seconds()/runs, "submit-s")
			b.ReportMetric(nodeCPU.Seconds()/runs, "node-submit-cpu-s")
			b.ReportMetric(float64(rss)/(1<<20), "node-rss-MiB")
		})
	}
}
