package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/chains/zmqsub"
	"github.com/ipnd/ipnd/internal/testenv"
)

// BenchmarkMoneroPushLatency measures ipnd with push from monerod's ZMQ
// publisher and the default poll interval (1 s), on a two-daemon regtest
// network (the merchant's monerod publishing, a customer's peered with it):
//   - relayed: a payment submitted to the customer's node, from the moment
//     the merchant's node publishes it (an independent ZMQ subscriber) to
//     the unconfirmed IPN reaching the receiver, and from generateblocks
//     returning to the confirmed IPN;
//   - local: a payment submitted to the merchant's own node (no pool event:
//     the change check finds it), from transfer returning to the
//     unconfirmed IPN; and the same with ipnd restarted without push (the
//     wallet polled every second, as before push existed).
//
// IPND_BENCH_PAYMENTS payments each (default 30).
func BenchmarkMoneroPushLatency(b *testing.B) {
	n := 30
	if v, err := strconv.Atoi(os.Getenv("IPND_BENCH_PAYMENTS")); err == nil && v > 0 {
		n = v
	}
	s, payer, payerAddr := relayStack(b)
	ctx := context.Background()
	pool := newPoolTimes(b, s.xmr.Main.ZMQPub)
	s.start()
	b.ResetTimer()
	for range b.N {
		var relayed, confirmed, local []time.Duration
		for i := 0; i < n; i++ {
			w := s.allocate(chains.XMR, 1)
			amount := uint64(1_000_000_000 + i)
			time.Sleep(randomDuration(time.Second)) // at a random moment of the poll cycle
			must(b, s.xmr.WaitSynced(ctx))
			txid := payAndNote(b, s, payer, w, amount)
			at := s.arrival(w, 0, amount, 60*time.Second)
			published := pool.wait(b, txid)
			relayed = append(relayed, at.Sub(published))
			time.Sleep(randomDuration(time.Second))
			if _, err := s.xmr.MineTx(ctx, payerAddr, txid); err != nil {
				b.Fatal(err)
			}
			mined := time.Now()
			confirmed = append(confirmed, s.arrival(w, amount, 0, 60*time.Second).Sub(mined))
		}
		// Local submissions: the payer's wallet-rpc switches to the
		// merchant's node.
		must(b, payer.UseDaemon(ctx, s.xmr.Main))
		localRun := func() []time.Duration {
			var ds []time.Duration
			for i := 0; i < n; i++ {
				w := s.allocate(chains.XMR, 1)
				amount := uint64(2_000_000_000 + i)
				time.Sleep(randomDuration(time.Second))
				txid := payAndNote(b, s, payer, w, amount)
				ds = append(ds, s.arrival(w, 0, amount, 60*time.Second).Sub(s.lastTransfer))
				if _, err := s.xmr.MineTx(ctx, payerAddr, txid); err != nil {
					b.Fatal(err)
				}
			}
			return ds
		}
		local = localRun()
		s.stop(syscall.SIGTERM)
		env := s.env
		s.env = append(append([]string(nil), env...), "IPND_MONERO_DAEMON_ZMQ_PUB=")
		s.start()
		localNoPush := localRun()
		s.stop(syscall.SIGTERM)
		s.env = env
		s.start()
		must(b, payer.UseDaemon(ctx, s.xmr.Customer))
		for _, m := range []struct {
			name string
			ds   []time.Duration
		}{{"pool_event_to_unconfirmed_ipn", relayed}, {"block_to_confirmed_ipn", confirmed},
			{"local_transfer_to_unconfirmed_ipn", local}, {"local_transfer_to_unconfirmed_ipn_no_push", localNoPush}} {
			p50, p95 := quantiles(m.ds)
			b.ReportMetric(float64(p50.Microseconds())/1000, m.name+"_p50_ms")
			b.ReportMetric(float64(p95.Microseconds())/1000, m.name+"_p95_ms")
			fmt.Printf("xmr push, %d payments: %s p50 %v p95 %v\n", len(m.ds), m.name, p50.Round(time.Millisecond), p95.Round(time.Millisecond))
		}
	}
}

func payAndNote(b *testing.B, s *stack, payer *monerotest.WalletRPC, w *watched, amount uint64) string {
	b.Helper()
	ctx := context.Background()
	if _, err := payer.Client.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	txid, err := payer.Transfer(ctx, monerotest.Destination{Address: w.address, Amount: amount})
	if err != nil {
		b.Fatal(err)
	}
	s.lastTxID, s.lastTransfer = txid, time.Now()
	return txid
}

// relayStack starts a two-daemon network with the merchant's view wallet on
// the publishing daemon and a funded payer wallet on the customer's, and a
// stack running ipnd on them (SQLite, push on, default poll interval).
func relayStack(b *testing.B) (*stack, *monerotest.WalletRPC, string) {
	if _, _, err := monerotest.Binaries(); err != nil {
		testenv.Unavailable(b, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n, err := monerotest.StartWith(ctx, monerotest.Options{ZMQPub: true, Customer: true})
	must(b, err)
	b.Cleanup(n.Close)
	payer, err := n.StartWalletRPC(ctx, "payer", monerotest.WalletOptions{Daemon: n.Customer})
	must(b, err)
	must(b, payer.CreateWallet(ctx, "payer"))
	payerAddr, err := payer.PrimaryAddress(ctx)
	must(b, err)
	merchant, err := n.StartWalletRPC(ctx, "merchant", monerotest.WalletOptions{})
	must(b, err)
	must(b, merchant.CreateWallet(ctx, "merchant"))
	addr, err := merchant.PrimaryAddress(ctx)
	must(b, err)
	viewKey, err := merchant.ViewKey(ctx)
	must(b, err)
	merchant.Stop()
	view, err := n.StartWalletRPC(ctx, "view", monerotest.WalletOptions{Login: viewLogin})
	must(b, err)
	must(b, view.RestoreViewOnly(ctx, "view", addr, viewKey, 0))
	must(b, n.Mine(ctx, 140, payerAddr)) // 80 spendable coinbase outputs
	must(b, n.WaitSynced(ctx))

	s := &stack{t: b, xmr: n, miner: payer, minerAddr: payerAddr, recv: newReceiver(b), apiKey: "test-api-key-0123456789", allLogs: &syncBuffer{}}
	listen := testenv.FreeAddr(b)
	s.apiURL = "http://" + listen
	user, pass, _ := strings.Cut(viewLogin, ":")
	s.env = []string{
		"IPND_SERVER_LISTEN=" + listen, "IPND_SERVER_API_KEYS=" + s.apiKey, "IPND_SERVER_LOG_LEVEL=info",
		"IPND_IPN_ALLOW_PRIVATE_TARGETS=true", "IPND_IPN_RETRY_SCHEDULE=200ms,500ms,1s",
		"IPND_MONERO_ENABLED=true", "IPND_MONERO_WALLET_RPC_URL=" + view.URL,
		"IPND_MONERO_WALLET_RPC_USER=" + user, "IPND_MONERO_WALLET_RPC_PASSWORD=" + pass,
		"IPND_MONERO_DAEMON_RPC_URL=" + n.DaemonURL, "IPND_MONERO_DAEMON_ZMQ_PUB=" + n.Main.ZMQPub,
	}
	b.Cleanup(func() { s.stop(syscall.SIGKILL) })
	return s, payer, payerAddr
}

// poolTimes records when monerod published each pool transaction.
type poolTimes struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newPoolTimes(b *testing.B, endpoint string) *poolTimes {
	sub, err := zmqsub.New(zmqsub.Options{Name: "bench", Endpoints: []string{endpoint}, Format: zmqsub.FormatMonero,
		Topics: []string{zmqsub.TopicMoneroTxPoolAdd}, Logger: slog.New(slog.DiscardHandler)})
	must(b, err)
	p := &poolTimes{at: map[string]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go sub.Run(ctx, func(ev zmqsub.Event) {
		if ev.Kind != zmqsub.KindMessage {
			return
		}
		txs, err := zmqsub.ParseMoneroTxPoolAdd(ev.Body)
		if err != nil {
			return
		}
		p.mu.Lock()
		for _, tx := range txs {
			p.at[tx.ID] = ev.Time
		}
		p.mu.Unlock()
	})
	return p
}

func (p *poolTimes) wait(b *testing.B, txid string) time.Time {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		at, ok := p.at[txid]
		p.mu.Unlock()
		if ok {
			return at
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("monerod never published %s", txid)
	return time.Time{}
}

// BenchmarkMoneroIdleCPU measures the CPU ipnd uses while nothing happens,
// with push on and 10,000 subaddresses in its wallet account, over
// IPND_BENCH_IDLE (default 60 s): user+system time of the process from
// /proc, as a percentage of one core. For comparison: the same with the ipn
// role polling the ledger every 5 s instead of 200 ms (ipn.poll_interval;
// in one process a new notification wakes it at once anyway), which
// separates the Monero watcher's share, and without push (the wallet polled
// every second).
func BenchmarkMoneroIdleCPU(b *testing.B) {
	idle := 60 * time.Second
	if v, err := time.ParseDuration(os.Getenv("IPND_BENCH_IDLE")); err == nil && v > 0 {
		idle = v
	}
	f := sharedXMR(b)
	ctx := context.Background()
	acct := xmrAccts.Add(1)
	user, pass, _ := strings.Cut(viewLogin, ":")
	view, err := monero.NewWalletClient(f.view.URL, monero.ClientOptions{User: user, Password: pass, Timeout: 5 * time.Minute})
	must(b, err)
	for {
		accts, err := view.GetAccounts(ctx)
		must(b, err)
		if uint32(len(accts)) > acct {
			break
		}
		_, _, err = view.CreateAccount(ctx, "bench")
		must(b, err)
	}
	for made := 0; made < 10_000; made += 64 {
		_, _, err := view.CreateAddresses(ctx, acct, 64, "bench")
		must(b, err)
	}
	must(b, view.Store(ctx))
	b.ResetTimer()
	for range b.N {
		for _, c := range []struct {
			name, ipnPoll string
			push          bool
		}{{"push", "200ms", true}, {"push_ipn_poll_5s", "5s", true}, {"poll_1s", "200ms", false}} {
			zmq := "IPND_MONERO_DAEMON_ZMQ_PUB="
			if c.push {
				zmq += f.net.Main.ZMQPub
			}
			s := xmrStack(b, "IPND_MONERO_ACCOUNT_INDEX="+strconv.Itoa(int(acct)), zmq,
				"IPND_MONERO_POLL_INTERVAL=1s", "IPND_SERVER_LOG_LEVEL=info", "IPND_IPN_POLL_INTERVAL="+c.ipnPoll)
			s.start()
			time.Sleep(5 * time.Second) // settle: the first polls read the account
			pid := s.proc.cmd.Process.Pid
			t0, c0 := time.Now(), cpuTime(b, pid)
			time.Sleep(idle) // the measurement itself: ipnd idles
			pct := (cpuTime(b, pid) - c0).Seconds() / time.Since(t0).Seconds() * 100
			b.ReportMetric(pct, "idle_cpu_pct_"+c.name)
			fmt.Printf("xmr idle CPU with 10,000 subaddresses, %s: %.3f %% of a core over %v\n", c.name, pct, idle)
			s.stop(syscall.SIGTERM)
		}
	}
}

// cpuTime is a process's user+system time (/proc/PID/stat, clock ticks of
// 1/100 s).
func cpuTime(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(b, err)
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
