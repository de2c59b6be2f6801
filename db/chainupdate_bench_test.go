package db_test

import (
	"fmt"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
)

// BenchmarkConnectBlockPayments: one block of 200 new payments to 200
// watched addresses per iteration, on each backend (the per-payment
// checks of a chain write: address, deposit, live total).
func BenchmarkConnectBlockPayments(b *testing.B) {
	const perBlock = 200
	for _, driver := range dbtest.Drivers {
		b.Run(driver, func(b *testing.B) {
			l := dbtest.Ledger(b, driver, db.Options{})
			for i := 0; i < perBlock; i++ {
				if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: fmt.Sprint("bench", i), DerivationIndex: u32(uint32(i))}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				ps := make([]chains.Payment, perBlock)
				for i := range ps {
					ps[i] = chains.Payment{TxID: fmt.Sprintf("tx%d-%d", n, i), Address: fmt.Sprint("bench", i), Amount: 1000}
				}
				if _, err := applyBlock(l, chains.BTC, blk(int64(n+1)), ps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*perBlock), "µs/payment")
		})
	}
}
