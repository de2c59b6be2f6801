package bitcoin

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
)

// BenchmarkCatchUp1000 measures a watcher catching up over 1,000 regtest
// blocks that each contain a payment to one of 100 allocated addresses,
// into a SQLite ledger: blocks per second.
func BenchmarkCatchUp1000(b *testing.B) {
	const blocks, addrs = 1000, 100
	ctx := context.Background()
	node := btcdtest.Start(b, btcdtest.Options{})
	node.Generate(blocks + 101)
	d, err := NewDeriver("regtest", testTPub(b), "p2wpkh")
	if err != nil {
		b.Fatal(err)
	}
	start := node.Height() + 1
	for i := 0; i < blocks; i++ {
		a, _ := d.Address(uint32(i % addrs))
		node.Pay(btcdtest.Output{Address: a, Amount: uint64(1000 + i)})
		node.Generate(1)
	}
	client := NewClient(RPCConfig{Host: node.RPCHost, User: node.User, Password: config.Secret(node.Pass)})
	b.ResetTimer()
	var total time.Duration
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		l, err := db.Open(ctx, "sqlite", filepath.Join(b.TempDir(), fmt.Sprintf("l%d.db", n)), db.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := l.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		alloc := NewAllocator(d, l, nil)
		for i := 0; i < addrs; i++ {
			if _, err := alloc.Allocate(ctx, ""); err != nil {
				b.Fatal(err)
			}
		}
		w := NewWatcher(client, l, d, WatcherConfig{GapLimit: 20, StartHeight: start, ProgressInterval: time.Hour})
		b.StartTimer()
		t0 := time.Now()
		if err := w.Poll(ctx); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		b.StopTimer()
		tip, _, _ := l.Tip(ctx, chains.BTC)
		if tip.Height != node.Height() {
			b.Fatalf("caught up to %d, node at %d", tip.Height, node.Height())
		}
		tot, _, err := l.Balance(ctx, chains.BTC, mustAddr(b, d, 0), 1)
		if err != nil || tot.Confirmed == 0 {
			b.Fatalf("no deposits recorded: %+v %v", tot, err)
		}
		l.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(blocks*b.N)/total.Seconds(), "blocks/s")
}

// BenchmarkCatchUpLitecoind1000 is BenchmarkCatchUp1000 on litecoind
// -regtest past MWEB activation: 1,000 blocks, each with a HogEx and
// extension-block data, every 10th with a transaction paying 10 of 100
// allocated addresses (1,000 payments; litecoind's wallet takes a quarter
// of a second per payment after activation, so not one per block), read
// with getblock over RPC, decoded with ltcd's wire and written to a
// SQLite ledger: blocks per second.
//
//	go test -run '^$' -bench CatchUpLitecoind ./chains/bitcoin
func BenchmarkCatchUpLitecoind1000(b *testing.B) {
	const blocks, addrs = 1000, 100
	ctx := context.Background()
	node := coretest.Start(b, coretest.Options{})
	node.ActivateMWEB()
	d, err := LitecoinFamily.NewDeriver("regtest", testTPub(b), "p2wpkh")
	if err != nil {
		b.Fatal(err)
	}
	start := node.Height() + 1
	for i := 0; i < blocks; i += 10 {
		outs := map[string]json.Number{}
		for j := i; j < i+10; j++ {
			outs[mustAddr(b, d, uint32(j%addrs))] = json.Number(coretest.FormatAmount(int64(100_000 + j)))
		}
		node.CallWallet("sendmany", nil, "", outs)
		node.Generate(10)
	}
	client := ltcClient(node)
	defer client.CloseIdle()
	b.ResetTimer()
	var total time.Duration
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		l, err := db.Open(ctx, "sqlite", filepath.Join(b.TempDir(), fmt.Sprintf("l%d.db", n)), db.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := l.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		alloc := NewAllocator(d, l, nil)
		for i := 0; i < addrs; i++ {
			if _, err := alloc.Allocate(ctx, ""); err != nil {
				b.Fatal(err)
			}
		}
		w := NewWatcher(client, l, d, WatcherConfig{GapLimit: 20, StartHeight: start, ProgressInterval: time.Hour, Push: PushConfig{Mode: PushOff}})
		b.StartTimer()
		t0 := time.Now()
		if err := w.Poll(ctx); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		b.StopTimer()
		tip, _, _ := l.Tip(ctx, chains.LTC)
		if tip.Height != node.Height() {
			b.Fatalf("caught up to %d, node at %d", tip.Height, node.Height())
		}
		var sum uint64
		for i := uint32(0); i < addrs; i++ {
			tot, _, err := l.Balance(ctx, chains.LTC, mustAddr(b, d, i), 1)
			if err != nil {
				b.Fatal(err)
			}
			sum += tot.Confirmed
		}
		if want := uint64(blocks*100_000 + blocks*(blocks-1)/2); sum != want {
			b.Fatalf("%d litoshi recorded, want %d", sum, want)
		}
		l.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(blocks*b.N)/total.Seconds(), "blocks/s")
}

func mustAddr(tb testing.TB, d *Deriver, i uint32) string {
	a, err := d.Address(i)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
