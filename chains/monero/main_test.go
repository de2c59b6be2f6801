package monero_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ledger"
)

// One regtest network for the whole package (monerod uses ~560 MB), its
// daemon publishing on ZMQ (offline: blocks only, see push_test.go):
//   - miner: a full wallet that mined the first blocks and pays;
//   - merchant: the merchant's full (spending) wallet;
//   - view: a view-only restore of the merchant wallet behind --rpc-login,
//     the one ipnd uses.
//
// The push tests of relayed transactions start a second, two-daemon network
// when they first run (relayNet).
type fixture struct {
	net       *monerotest.Net
	miner     *monerotest.WalletRPC
	merchant  *monerotest.WalletRPC
	view      *monerotest.WalletRPC
	minerAddr string
	merchAddr string
	viewKey   string
}

const viewLogin = "ipnd:digest-Pa55"

var (
	fx        *fixture
	fxErr     error
	nextAcct  atomic.Uint32 // each test uses its own account of the view wallet
	setupTime time.Duration
)

func TestMain(m *testing.M) {
	start := time.Now()
	fx, fxErr = setup()
	setupTime = time.Since(start)
	code := m.Run()
	if fx != nil {
		fx.net.Close()
	}
	if relay != nil {
		relay.net.Close()
	}
	os.Exit(code)
}

func setup() (*fixture, error) {
	if _, _, err := monerotest.Binaries(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := monerotest.StartWith(ctx, monerotest.Options{ZMQPub: true})
	if err != nil {
		return nil, err
	}
	f := &fixture{net: n}
	fail := func(err error) (*fixture, error) { n.Close(); return nil, err }
	type started struct {
		w   *monerotest.WalletRPC
		err error
	}
	// Start the three processes and their wallets concurrently.
	ch := make(chan started, 2)
	go func() {
		w, err := n.StartWalletRPC(ctx, "miner", monerotest.WalletOptions{})
		if err == nil {
			err = w.CreateWallet(ctx, "miner")
		}
		ch <- started{w, err}
	}()
	merch, err := n.StartWalletRPC(ctx, "merchant", monerotest.WalletOptions{})
	if err != nil {
		return fail(err)
	}
	if err := merch.CreateWallet(ctx, "merchant"); err != nil {
		return fail(err)
	}
	f.merchant = merch
	if f.merchAddr, err = merch.PrimaryAddress(ctx); err != nil {
		return fail(err)
	}
	if f.viewKey, err = merch.ViewKey(ctx); err != nil {
		return fail(err)
	}
	view, err := n.StartWalletRPC(ctx, "view", monerotest.WalletOptions{Login: viewLogin})
	if err != nil {
		return fail(err)
	}
	f.view = view
	if err := view.RestoreViewOnly(ctx, "view", f.merchAddr, f.viewKey, 0); err != nil {
		return fail(err)
	}
	s := <-ch
	if s.err != nil {
		return fail(s.err)
	}
	f.miner = s.w
	if f.minerAddr, err = f.miner.PrimaryAddress(ctx); err != nil {
		return fail(err)
	}
	// Coinbase unlocks after 60 blocks; 100 leave ~40 spendable outputs.
	if err := n.Mine(ctx, 100, f.minerAddr); err != nil {
		return fail(err)
	}
	return f, nil
}

// need returns the fixture or skips/fails (IPND_REQUIRE_INTEGRATION=1) the
// test when the Monero binaries are missing.
func need(t *testing.T) *fixture {
	t.Helper()
	if fxErr != nil {
		if fx == nil && isMissing(fxErr) {
			testenv.Unavailable(t, "%v", fxErr)
		}
		t.Fatalf("monero regtest setup: %v", fxErr)
	}
	return fx
}

func isMissing(err error) bool { return errors.Is(err, monerotest.ErrMissing) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newLedgerAt(t *testing.T, path string) *db.Ledger {
	t.Helper()
	ctx := context.Background()
	l, err := db.Open(ctx, "sqlite", path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if _, _, err := l.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return l
}

func newLedger(t *testing.T) *db.Ledger {
	return newLedgerAt(t, filepath.Join(t.TempDir(), "ledger.db"))
}

// account returns an account index no other test uses.
func account() uint32 { return nextAcct.Add(1) }

// viewClient is a fresh client for the view wallet-rpc with the right
// login (a fresh client per component, like ipnd's wiring).
func (f *fixture) viewClient(t *testing.T) *monero.WalletClient {
	t.Helper()
	user, pass := "ipnd", "digest-Pa55"
	c, err := monero.NewWalletClient(f.view.URL, monero.ClientOptions{User: user, Password: pass, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) daemonClient(t *testing.T) *monero.DaemonClient {
	t.Helper()
	c, err := monero.NewDaemonClient(f.net.DaemonURL, monero.ClientOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) allocator(t *testing.T, l *db.Ledger, acct uint32) *monero.Allocator {
	t.Helper()
	a, err := monero.NewAllocator(ctxT(t), f.viewClient(t), l, monero.AllocatorConfig{
		Account: acct, WalletCheck: monero.WalletCheck{RequireViewOnly: true},
	})
	if err != nil {
		t.Fatalf("NewAllocator: %v", err)
	}
	return a
}

func (f *fixture) watcher(t *testing.T, l monero.WatcherLedger, acct uint32) *monero.Watcher {
	return monero.NewWatcher(f.viewClient(t), f.daemonClient(t), l, monero.WatcherConfig{
		Account: acct, PollInterval: 100 * time.Millisecond, ReorgWindow: 10,
	})
}

func poll(t *testing.T, w *monero.Watcher) {
	t.Helper()
	if err := w.Poll(ctxT(t)); err != nil {
		t.Fatalf("poll: %v", err)
	}
}

func (f *fixture) mine(t *testing.T, n int) {
	t.Helper()
	if err := f.net.Mine(ctxT(t), n, f.minerAddr); err != nil {
		t.Fatal(err)
	}
}

// confirm mines until txids are in a block (normally one block) and
// returns the number of blocks mined.
func (f *fixture) confirm(t *testing.T, txids ...string) int {
	t.Helper()
	n, err := f.net.MineTx(ctxT(t), f.minerAddr, txids...)
	if err != nil {
		t.Fatal(err)
	}
	if n > 1 {
		t.Logf("the transaction needed %d blocks to be mined", n)
	}
	return n
}

// pay sends one transaction from the miner.
func (f *fixture) pay(t *testing.T, dests ...monerotest.Destination) string {
	t.Helper()
	ctx := ctxT(t)
	if _, err := f.miner.Client.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	txid, err := f.miner.Transfer(ctx, dests...)
	if err != nil {
		t.Fatal(err)
	}
	return txid
}

func balance(t *testing.T, l *db.Ledger, addr string, maxConfirms int) (ledger.Totals, []ledger.Deposit) {
	t.Helper()
	tot, ds, err := l.Balance(ctxT(t), chains.XMR, addr, maxConfirms)
	if err != nil {
		t.Fatalf("balance: %v", err)
	}
	return tot, ds
}

func wantTotals(t *testing.T, l *db.Ledger, addr string, maxConfirms int, confirmed, unconfirmed uint64) []ledger.Deposit {
	t.Helper()
	tot, ds := balance(t, l, addr, maxConfirms)
	if tot.Confirmed != confirmed || tot.Unconfirmed != unconfirmed {
		t.Fatalf("%s… max_confirms=%d at tip %d: confirmed %d unconfirmed %d, want %d / %d (deposits %s)",
			addr[:12], maxConfirms, tot.Height, tot.Confirmed, tot.Unconfirmed, confirmed, unconfirmed, describe(ds))
	}
	return ds
}

func describe(ds []ledger.Deposit) string {
	s := ""
	for _, d := range ds {
		s += fmt.Sprintf("[%s %d h=%d %s ds=%v] ", d.TxID[:8], d.Amount, d.Height, d.Status, d.DoubleSpend)
	}
	return s
}

const xmr = uint64(1_000_000_000_000)
