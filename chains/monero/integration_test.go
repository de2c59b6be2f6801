package monero_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/ledger"
)

func TestAllocateRecordsSubaddressesInTheAccount(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	seen := map[uint32]bool{}
	for i := 0; i < 3; i++ {
		got, err := a.Allocate(ctx, "order-"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if got.AccountIndex == nil || *got.AccountIndex != acct || got.SubaddressIndex == nil || *got.SubaddressIndex == 0 {
			t.Fatalf("allocated %+v", got)
		}
		if seen[*got.SubaddressIndex] {
			t.Fatalf("index %d handed out twice", *got.SubaddressIndex)
		}
		seen[*got.SubaddressIndex] = true
		// Recorded in the ledger before it was returned.
		rec, err := l.AddressByString(ctx, chains.XMR, got.Address)
		if err != nil || *rec.SubaddressIndex != *got.SubaddressIndex {
			t.Fatalf("ledger: %+v %v", rec, err)
		}
		// It is the wallet's address at that index.
		w, err := f.viewClient(t).GetAddress(ctx, acct, []uint32{*got.SubaddressIndex})
		if err != nil || len(w.Addresses) != 1 || w.Addresses[0].Address != got.Address {
			t.Fatalf("wallet at %d: %+v %v", *got.SubaddressIndex, w, err)
		}
		idx, err := a.Validate(ctx, got.Address)
		if err != nil || idx.Major != acct || idx.Minor != *got.SubaddressIndex {
			t.Fatalf("validate: %+v %v", idx, err)
		}
	}
	if mx, _ := l.HighestSubaddressIndex(ctx, chains.XMR, acct); mx != 3 {
		t.Fatalf("ledger max index %d, want 3", mx)
	}
	if _, err := a.Validate(ctx, f.minerAddr); !errors.Is(err, monero.ErrNotWalletAddress) {
		t.Fatalf("miner address: %v", err)
	}
	if _, err := a.Validate(ctx, "not-an-address"); !errors.Is(err, monero.ErrNotWalletAddress) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := a.Validate(ctx, f.merchAddr); !errors.Is(err, monero.ErrOtherAccount) {
		t.Fatalf("account 0 address: %v", err)
	}
}

func TestPaymentPoolThenConfirmedAtThreshold(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	w := f.watcher(t, l, acct)
	addr, err := a.Allocate(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	poll(t, w)
	wantTotals(t, l, addr.Address, 3, 0, 0)

	amount := 1*xmr + 234_567_890_123 // 1.234567890123 XMR, exact
	txid := f.pay(t, monerotest.Destination{Address: addr.Address, Amount: amount})
	poll(t, w)
	ds := wantTotals(t, l, addr.Address, 3, 0, amount)
	if len(ds) != 1 || ds[0].TxID != txid || ds[0].Status != ledger.StatusMempool || ds[0].Height != 0 {
		t.Fatalf("pool deposit: %s", describe(ds))
	}
	// With max_confirms 0 a pool payment counts as confirmed.
	wantTotals(t, l, addr.Address, 0, amount, 0)

	for confs := 1; confs <= 3; confs++ {
		if confs == 1 {
			f.confirm(t, txid)
		} else {
			f.mine(t, 1)
		}
		poll(t, w)
		if confs < 3 {
			wantTotals(t, l, addr.Address, 3, 0, amount)
		} else {
			wantTotals(t, l, addr.Address, 3, amount, 0)
		}
		wantTotals(t, l, addr.Address, 1, amount, 0)
	}
	_, ds = balance(t, l, addr.Address, 3)
	if len(ds) != 1 || ds[0].Status != ledger.StatusConfirmed || ds[0].Height <= 0 {
		t.Fatalf("confirmed deposit: %s", describe(ds))
	}
	if st := w.Status(); st.State != chains.Synced || st.Height != ds[0].Height+2 {
		t.Fatalf("status %+v, deposit height %d", st, ds[0].Height)
	}
}

func TestPaymentsSummedAndAttributedPerSubaddress(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	w := f.watcher(t, l, acct)
	x, _ := a.Allocate(ctx, "")
	y, err := a.Allocate(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// One transaction paying both subaddresses, then a second payment to x.
	tx1 := f.pay(t, monerotest.Destination{Address: x.Address, Amount: 1 * xmr}, monerotest.Destination{Address: y.Address, Amount: 2 * xmr})
	tx2 := f.pay(t, monerotest.Destination{Address: x.Address, Amount: 3 * xmr})
	poll(t, w)
	wantTotals(t, l, x.Address, 1, 0, 4*xmr)
	wantTotals(t, l, y.Address, 1, 0, 2*xmr)
	f.confirm(t, tx1, tx2)
	poll(t, w)
	if ds := wantTotals(t, l, x.Address, 1, 4*xmr, 0); len(ds) != 2 {
		t.Fatalf("x deposits: %s", describe(ds))
	}
	if ds := wantTotals(t, l, y.Address, 1, 2*xmr, 0); len(ds) != 1 {
		t.Fatalf("y deposits: %s", describe(ds))
	}
}

func TestDoubleSpendIsFlagged(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	w := f.watcher(t, l, acct)
	addr, _ := a.Allocate(ctx, "")
	first, _, err := f.miner.DoubleSpend(ctx, addr.Address, f.minerAddr)
	if err != nil {
		t.Fatal(err)
	}
	poll(t, w)
	ds := wantTotals(t, l, addr.Address, 0, 0, 0)
	if len(ds) != 1 || ds[0].TxID != first || !ds[0].DoubleSpend || ds[0].Status != ledger.StatusDoubleSpend {
		t.Fatalf("deposits: %s", describe(ds))
	}
	// The miner built both spends without relaying: mine the first so its
	// wallet stops choosing the spent output.
	f.confirm(t, first)
	if _, err := f.miner.Client.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestReorgRemovesDeposit(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	w := f.watcher(t, l, acct)
	addr, _ := a.Allocate(ctx, "")
	txid := f.pay(t, monerotest.Destination{Address: addr.Address, Amount: 5 * xmr})
	n := f.confirm(t, txid)
	poll(t, w)
	wantTotals(t, l, addr.Address, 1, 5*xmr, 0)

	if err := f.net.Reorg(ctx, n, n+1, f.minerAddr); err != nil {
		t.Fatal(err)
	}
	poll(t, w)
	ds := wantTotals(t, l, addr.Address, 1, 0, 0)
	if len(ds) != 1 || ds[0].Status != ledger.StatusOrphaned {
		t.Fatalf("after reorg: %s", describe(ds))
	}
	// Polling again changes nothing.
	poll(t, w)
	wantTotals(t, l, addr.Address, 0, 0, 0)
}

func TestReplacedWalletNeverReusesAnIndex(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	var last chains.Address
	for i := 0; i < 4; i++ {
		var err error
		if last, err = a.Allocate(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	// The wallet file is lost; a fresh view-only restore of the same keys
	// knows only account 0, index 0.
	if err := f.view.CloseWallet(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.view.RestoreViewOnly(ctx, "view-restored-"+time.Now().Format("150405.000"), f.merchAddr, f.viewKey, 0); err != nil {
		t.Fatal(err)
	}
	a2 := f.allocator(t, l, acct) // the guard creates the account and advances it
	next, err := a2.Allocate(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if *next.SubaddressIndex != *last.SubaddressIndex+1 {
		t.Fatalf("after replacement got index %d, last handed out %d", *next.SubaddressIndex, *last.SubaddressIndex)
	}
	all, _ := l.Addresses(ctx, chains.XMR)
	seen := map[string]bool{}
	for _, x := range all {
		if seen[x.Address] {
			t.Fatalf("address %s twice", x.Address)
		}
		seen[x.Address] = true
	}
	if len(all) != 5 {
		t.Fatalf("%d ledger addresses, want 5", len(all))
	}
}

func TestOtherWalletRefusesToStart(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	if _, err := a.Allocate(ctx, ""); err != nil {
		t.Fatal(err)
	}
	// The miner's wallet is another wallet (spending, so allow that here).
	_, err := monero.NewAllocator(ctx, f.miner.Client, l, monero.AllocatorConfig{Account: acct})
	if !errors.Is(err, monero.ErrOtherWallet) {
		t.Fatalf("err = %v, want ErrOtherWallet", err)
	}
}

func TestSpendingWalletRefusedWhenViewOnlyRequired(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	_, err := monero.NewAllocator(ctx, f.merchant.Client, l, monero.AllocatorConfig{
		Account: 0, WalletCheck: monero.WalletCheck{RequireViewOnly: true},
	})
	if !errors.Is(err, monero.ErrSpendingWallet) || !strings.Contains(err.Error(), "nothing to steal") {
		t.Fatalf("err = %v, want ErrSpendingWallet with the reason", err)
	}
	if err := monero.CheckViewOnly(ctx, f.viewClient(t), monero.WalletCheck{RequireViewOnly: true}); err != nil {
		t.Fatalf("view-only wallet refused: %v", err)
	}
	// Allowed (with a warning) when require_view_only = false.
	if err := monero.CheckViewOnly(ctx, f.merchant.Client, monero.WalletCheck{RequireViewOnly: false}); err != nil {
		t.Fatalf("spending wallet with require_view_only=false: %v", err)
	}
}

func TestWatcherRestartMissesAndDoublesNothing(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	path := t.TempDir() + "/ledger.db"
	l := newLedgerAt(t, path)
	acct := account()
	a := f.allocator(t, l, acct)
	x, _ := a.Allocate(ctx, "")
	y, _ := a.Allocate(ctx, "")

	// First process: runs, sees a pool payment to x, then dies.
	w1 := f.watcher(t, l, acct)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w1.Run(runCtx) }()
	tx := f.pay(t, monerotest.Destination{Address: x.Address, Amount: 2 * xmr})
	waitFor(t, func() bool { tot, _ := balance(t, l, x.Address, 1); return tot.Unconfirmed == 2*xmr })
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.Close()

	// While it is down: x's payment is mined, y is paid and mined, blocks
	// pass.
	f.confirm(t, tx)
	ty := f.pay(t, monerotest.Destination{Address: y.Address, Amount: 3 * xmr})
	f.confirm(t, ty) // x has at least 2 confirmations now

	// Second process on the same ledger file.
	l2 := newLedgerAt(t, path)
	w2 := f.watcher(t, l2, acct)
	poll(t, w2)
	if ds := wantTotals(t, l2, x.Address, 2, 2*xmr, 0); len(ds) != 1 || ds[0].Status != ledger.StatusConfirmed || ds[0].TxID != tx {
		t.Fatalf("x: %s", describe(ds))
	}
	if ds := wantTotals(t, l2, y.Address, 1, 3*xmr, 0); len(ds) != 1 || ds[0].TxID != ty {
		t.Fatalf("y: %s", describe(ds))
	}
	// Polling again records nothing new.
	poll(t, w2)
	wantTotals(t, l2, x.Address, 2, 2*xmr, 0)
	wantTotals(t, l2, y.Address, 1, 3*xmr, 0)
}

func TestWalletRPCStoppedAndStartedAgain(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	x, _ := a.Allocate(ctx, "")
	w := f.watcher(t, l, acct)
	poll(t, w)

	f.view.Stop()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = f.view.Restart(context.Background())
		}
	})
	err := w.Poll(ctx)
	if !errors.Is(err, monero.ErrUnreachable) {
		t.Fatalf("poll with wallet-rpc down: %v", err)
	}
	if st := w.Status(); st.State != chains.Unreachable || st.Error == "" {
		t.Fatalf("status %+v", st)
	}
	if strings.Contains(err.Error(), "digest-Pa55") {
		t.Fatalf("password in error: %v", err)
	}
	txid := f.pay(t, monerotest.Destination{Address: x.Address, Amount: 7 * xmr})
	f.confirm(t, txid)
	if err := f.view.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	poll(t, w) // the same client and watcher recover
	wantTotals(t, l, x.Address, 1, 7*xmr, 0)
	if st := w.Status(); st.State != chains.Synced {
		t.Fatalf("status %+v", st)
	}
}

func TestDigestLogin(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	// The view wallet-rpc runs with --rpc-login: every other test goes
	// through digest authentication; here the wrong password.
	bad, _ := monero.NewWalletClient(f.view.URL, monero.ClientOptions{User: "ipnd", Password: "not-the-Pa55"})
	_, err := bad.GetVersion(ctx)
	if !errors.Is(err, monero.ErrUnauthorized) || !strings.Contains(err.Error(), "wrong monero.wallet_rpc_user or monero.wallet_rpc_password") {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "not-the-Pa55") {
		t.Fatalf("password in error: %v", err)
	}
	none, _ := monero.NewWalletClient(f.view.URL, monero.ClientOptions{})
	if _, err := none.GetVersion(ctx); !errors.Is(err, monero.ErrUnauthorized) {
		t.Fatalf("no credentials: %v", err)
	}
	good := f.viewClient(t)
	for i := 0; i < 3; i++ {
		if _, err := good.GetHeight(ctx); err != nil {
			t.Fatalf("right password: %v", err)
		}
	}
	// A watcher with wrong credentials reports the chain unreachable.
	w := monero.NewWatcher(bad, f.daemonClient(t), newLedger(t), monero.WatcherConfig{})
	if err := w.Poll(ctx); !errors.Is(err, monero.ErrUnauthorized) || w.Status().State != chains.Unreachable {
		t.Fatalf("poll: %v, status %+v", err, w.Status())
	}
}

func TestDaemonUnreachableStatus(t *testing.T) {
	f := need(t)
	port, _ := monerotest.FreePort()
	d, _ := monero.NewDaemonClient("http://127.0.0.1:"+strconv.Itoa(port), monero.ClientOptions{Timeout: 2 * time.Second})
	w := monero.NewWatcher(f.viewClient(t), d, newLedger(t), monero.WatcherConfig{})
	if st := w.Status(); st.State != chains.Starting {
		t.Fatalf("before the first poll: %+v", st)
	}
	err := w.Poll(ctxT(t))
	if !errors.Is(err, monero.ErrUnreachable) || w.Status().State != chains.Unreachable {
		t.Fatalf("poll: %v, status %+v", err, w.Status())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReorgDeeperThanWindowIsCaughtByBlockHashes(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	a := f.allocator(t, l, acct)
	// A window of 1 block: the reorg below is deeper than that.
	w := monero.NewWatcher(f.viewClient(t), f.daemonClient(t), l, monero.WatcherConfig{Account: acct, ReorgWindow: 1})
	addr, _ := a.Allocate(ctx, "")
	poll(t, w) // records a tip below the payment's block
	txid := f.pay(t, monerotest.Destination{Address: addr.Address, Amount: 4 * xmr})
	n := f.confirm(t, txid)
	f.mine(t, 3)
	poll(t, w)
	wantTotals(t, l, addr.Address, 4, 4*xmr, 0)

	if err := f.net.Reorg(ctx, n+3, n+4, f.minerAddr); err != nil {
		t.Fatal(err)
	}
	poll(t, w)
	ds := wantTotals(t, l, addr.Address, 0, 0, 0)
	if len(ds) != 1 || ds[0].Status != ledger.StatusOrphaned {
		t.Fatalf("after a reorg of %d blocks with a 1-block window: %s", n+3, describe(ds))
	}
}
