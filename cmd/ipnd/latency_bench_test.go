package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
)

// arrival waits for the receiver to get (conf, unconf) for w and returns
// when it first arrived.
func (s *stack) arrival(w *watched, conf, unconf uint64, within time.Duration) time.Time {
	s.t.Helper()
	key := w.sub + " " + strconv.FormatUint(conf, 10) + "/" + strconv.FormatUint(unconf, 10)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		s.recv.mu.Lock()
		at, ok := s.recv.arrived[key]
		s.recv.mu.Unlock()
		if ok {
			return at
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatalf("IPN %s never arrived", key)
	return time.Time{}
}

func quantiles(ds []time.Duration) (p50, p95 time.Duration) {
	slices.Sort(ds)
	return ds[len(ds)*50/100], ds[min(len(ds)-1, len(ds)*95/100)]
}

// BenchmarkIPNLatency measures, with the default settings (Bitcoin: push by
// btcd's websocket, the 30 s safety poll; Litecoin: polling litecoind every
// second, Debian's build has no ZMQ; Monero: polling every second),
// the time from the node accepting a payment (sendrawtransaction or
// transfer returning) to the receiver getting the unconfirmed IPN, and
// from mining the confirming block to the receiver getting the confirmed
// IPN, over IPND_BENCH_PAYMENTS (default 50) payments per chain
// (sub-benchmarks btc, ltc and xmr).
func BenchmarkIPNLatency(b *testing.B) {
	n := 50
	if v, err := strconv.Atoi(os.Getenv("IPND_BENCH_PAYMENTS")); err == nil && v > 0 {
		n = v
	}
	// Default poll intervals: override what newStack shortens for tests.
	s := newStack(b, "IPND_BITCOIN_POLL_INTERVAL=30s", "IPND_LITECOIN_POLL_INTERVAL=30s", "IPND_MONERO_POLL_INTERVAL=1s",
		"IPND_SERVER_LOG_LEVEL=info")
	must(b, s.xmr.Mine(context.Background(), 60, s.minerAddr)) // more spendable coinbase outputs
	s.start()
	for _, c := range []chains.Chain{chains.BTC, chains.LTC, chains.XMR} {
		b.Run(string(c), func(b *testing.B) {
			for range b.N {
				var unconf, conf []time.Duration
				for i := 0; i < n; i++ {
					w := s.allocate(c, 1)
					amount := uint64(20_000 + i)
					if c == chains.XMR {
						amount = 1_000_000_000 + uint64(i)
					}
					var sent, mined time.Time
					// Payments and blocks arrive at random moments of the poll cycle.
					time.Sleep(randomDuration(time.Second))
					switch c {
					case chains.BTC:
						s.btc.Pay(btcdtest.Output{Address: w.address, Amount: amount})
						sent = time.Now()
					case chains.LTC:
						s.payLTC([]*watched{w}, amount)
						sent = time.Now()
					default:
						s.payXMR([]*watched{w}, amount)
						sent = s.lastTransfer
					}
					at := s.arrival(w, 0, amount, 60*time.Second)
					unconf = append(unconf, at.Sub(sent))
					time.Sleep(randomDuration(time.Second))
					if c == chains.BTC {
						s.btc.Generate(1)
					} else if c == chains.LTC {
						s.ltc.With(b).Generate(1)
					} else if _, err := s.xmr.MineTx(context.Background(), s.minerAddr, s.lastTxID); err != nil {
						b.Fatal(err)
					}
					mined = time.Now()
					at = s.arrival(w, amount, 0, 60*time.Second)
					conf = append(conf, at.Sub(mined))
				}
				u50, u95 := quantiles(unconf)
				c50, c95 := quantiles(conf)
				b.ReportMetric(float64(u50.Milliseconds()), "unconfirmed_p50_ms")
				b.ReportMetric(float64(u95.Milliseconds()), "unconfirmed_p95_ms")
				b.ReportMetric(float64(c50.Milliseconds()), "confirmed_p50_ms")
				b.ReportMetric(float64(c95.Milliseconds()), "confirmed_p95_ms")
				fmt.Printf("%s over %d payments: unconfirmed IPN p50 %v p95 %v; confirmed IPN p50 %v p95 %v\n",
					c, n, u50, u95, c50, c95)
			}
		})
	}
}
