package monero_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/internal/testenv"
)

const (
	benchSubaddresses = 10_000
	benchTransfers    = 1_005 // 67 transactions × 15 subaddresses
	benchPerTx        = 15    // 15 destinations + change = 16 outputs, the maximum
)

type pollCase struct {
	watcher *monero.Watcher
	err     error
}

var (
	benchOnce    sync.Once
	benchEmpty   pollCase
	benchHistory pollCase
)

// BenchmarkPoll measures one steady-state poll (no new block) of a watcher
// on an empty wallet and on a wallet with >= 1,000 historical incoming
// transfers to 10,000 subaddresses, each with its own SQLite ledger holding
// what the watcher recorded. The poll's cost should not grow with history:
// compare the two ns/op (target: history <= 1.5 x empty).
func BenchmarkPoll(b *testing.B) {
	if fxErr != nil {
		if isMissing(fxErr) {
			testenv.Unavailable(b, "%v", fxErr)
		}
		b.Fatalf("monero regtest setup: %v", fxErr)
	}
	benchOnce.Do(func() {
		benchEmpty = setupEmpty()
		benchHistory = setupHistory()
	})
	for _, c := range []struct {
		name string
		pc   pollCase
	}{
		{"empty", benchEmpty},
		{fmt.Sprintf("history_%dtransfers_%dsubaddresses", benchTransfers, benchSubaddresses), benchHistory},
	} {
		b.Run(c.name, func(b *testing.B) {
			if c.pc.err != nil {
				b.Fatal(c.pc.err)
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.pc.watcher.Poll(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func openLedger(path string) (*db.Ledger, error) {
	ctx := context.Background()
	l, err := db.Open(ctx, "sqlite", path, db.Options{})
	if err != nil {
		return nil, err
	}
	if _, _, err := l.Migrate(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

func benchWatcher(w *monero.WalletClient, l *db.Ledger, acct uint32) *monero.Watcher {
	d, _ := monero.NewDaemonClient(fx.net.DaemonURL, monero.ClientOptions{Timeout: time.Minute})
	return monero.NewWatcher(w, d, l, monero.WatcherConfig{Account: acct, ReorgWindow: 10})
}

// setupEmpty: a fresh wallet in its own wallet-rpc, an empty ledger.
func setupEmpty() pollCase {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, err := fx.net.StartWalletRPC(ctx, "bench-empty", monerotest.WalletOptions{})
	if err != nil {
		return pollCase{err: err}
	}
	if err := w.CreateWallet(ctx, "empty"); err != nil {
		return pollCase{err: err}
	}
	l, err := openLedger(filepath.Join(w.Dir, "ledger.db"))
	if err != nil {
		return pollCase{err: err}
	}
	wt := benchWatcher(w.Client, l, 0)
	if err := wt.Poll(ctx); err != nil { // first start: reads the (empty) history
		return pollCase{err: err}
	}
	return pollCase{watcher: wt}
}

// setupHistory: an account of the view wallet with 10,000 subaddresses (all
// in the ledger) and >= 1,000 incoming transfers buried under more than the
// reorg window.
func setupHistory() pollCase {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	fail := func(err error) pollCase { return pollCase{err: err} }
	acct := account()
	view, err := monero.NewWalletClient(fx.view.URL, monero.ClientOptions{User: "ipnd", Password: "digest-Pa55", Timeout: 5 * time.Minute})
	if err != nil {
		return fail(err)
	}
	l, err := openLedger(filepath.Join(fx.net.Dir, fmt.Sprintf("bench-history-%d.db", acct)))
	if err != nil {
		return fail(err)
	}
	// Creates the account.
	if _, err := monero.NewAllocator(ctx, view, l, monero.AllocatorConfig{Account: acct, WalletCheck: monero.WalletCheck{RequireViewOnly: true}}); err != nil {
		return fail(err)
	}
	var addrs []string
	for len(addrs) < benchSubaddresses {
		as, idxs, err := view.CreateAddresses(ctx, acct, uint32(min(64, benchSubaddresses-len(addrs))), "bench")
		if err != nil {
			return fail(err)
		}
		for i, s := range as {
			ac, sub := acct, idxs[i]
			if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: s, AccountIndex: &ac, SubaddressIndex: &sub}); err != nil {
				return fail(err)
			}
		}
		addrs = append(addrs, as...)
	}
	if err := view.Store(ctx); err != nil {
		return fail(err)
	}
	// Enough unlocked coinbase outputs (60 blocks deep) for one input per
	// transaction.
	if err := fx.net.Mine(ctx, benchTransfers/benchPerTx+70, fx.minerAddr); err != nil {
		return fail(err)
	}
	if _, err := fx.miner.Client.Refresh(ctx); err != nil {
		return fail(err)
	}
	var txids []string
	for i := 0; i < benchTransfers/benchPerTx; i++ {
		var dests []monerotest.Destination
		for j := 0; j < benchPerTx; j++ {
			dests = append(dests, monerotest.Destination{
				Address: addrs[(i*benchPerTx+j)*7%len(addrs)], Amount: uint64(1_000_000_000 + i*benchPerTx + j),
			})
		}
		txid, err := fx.miner.Transfer(ctx, dests...)
		if err != nil {
			return fail(fmt.Errorf("bench transfer %d: %w", i, err))
		}
		txids = append(txids, txid)
	}
	if _, err := fx.net.MineTx(ctx, fx.minerAddr, txids...); err != nil {
		return fail(err)
	}
	if err := fx.net.Mine(ctx, 20, fx.minerAddr); err != nil { // bury them under the reorg window
		return fail(err)
	}
	wt := benchWatcher(view, l, acct)
	if err := wt.Poll(ctx); err != nil { // first start: records the whole history once
		return fail(err)
	}
	tr, err := view.GetTransfers(ctx, monero.TransfersQuery{In: true, Account: acct})
	if err != nil {
		return fail(err)
	}
	if len(tr.In) < 1000 {
		return fail(fmt.Errorf("only %d incoming transfers in the history account", len(tr.In)))
	}
	if err := wt.Poll(ctx); err != nil {
		return fail(err)
	}
	return pollCase{watcher: wt}
}
