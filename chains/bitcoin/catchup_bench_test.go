package bitcoin

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
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

func mustAddr(tb testing.TB, d *Deriver, i uint32) string {
	a, err := d.Address(i)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
