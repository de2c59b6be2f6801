package db_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
)

// TestConcurrentAllocationNoDeadlock: 200 allocations at once (two ipnd
// processes' worth of API requests on one database) all succeed, each with
// its own index. On MySQL the counter row's shared lock (INSERT IGNORE)
// upgraded to an exclusive one (SELECT … FOR UPDATE) deadlocked most of
// them (issue 13: 123 of 200 answered 503).
func TestConcurrentAllocationNoDeadlock(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := dbtest.DSN(t, driver)
			var ls []*db.Ledger
			for range 2 {
				l := dbtest.Open(t, driver, dsn, db.Options{})
				warmPool(t, l)
				ls = append(ls, l)
			}
			derive := func(i uint32) (string, error) { return fmt.Sprintf("addr%d", i), nil }
			const n = 200
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				seen  = map[uint32]bool{}
				errs  []error
				took  []time.Duration
				start = make(chan struct{})
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					t0 := time.Now()
					a, err := ls[i%len(ls)].AllocateAddress(ctx, chains.BTC, derive, "")
					d := time.Since(t0)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					took = append(took, d)
					if seen[*a.DerivationIndex] {
						errs = append(errs, fmt.Errorf("index %d handed out twice", *a.DerivationIndex))
					}
					seen[*a.DerivationIndex] = true
				}()
			}
			close(start)
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("%d of %d allocations failed; first: %v", len(errs), n, errs[0])
			}
			for i := range uint32(n) {
				if !seen[i] {
					t.Fatalf("index %d was skipped: %d allocations should use 0..%d", i, n, n-1)
				}
			}
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			t.Logf("%s: %d concurrent allocations, p50 %v, p99 %v, max %v", driver, n,
				took[n/2], took[n*99/100], took[n-1])
		})
	}
}

// warmPool opens the ledger's connections before a measurement (a burst
// of new MySQL connections can wait a second for a SYN retry).
func warmPool(t *testing.T, l *db.Ledger) {
	t.Helper()
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var one int
			if err := l.DB().QueryRow(`SELECT 1`).Scan(&one); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
