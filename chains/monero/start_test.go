package monero_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
)

// TestStarterWaitsForWalletRPC: wallet-rpc down when the checks start:
// Status says unreachable, the watcher gated on the starter does not poll,
// the API adapter answers ErrNotReady; once wallet-rpc is back the checks
// pass within the back-off, without a restart.
func TestStarterWaitsForWalletRPC(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	l := newLedger(t)
	acct := account()
	f.view.Stop()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = f.view.Restart(context.Background())
		}
	})
	s := monero.NewStarter(f.viewClient(t), f.daemonClient(t), l, monero.StarterConfig{
		AllocatorConfig: monero.AllocatorConfig{Account: acct, WalletCheck: monero.WalletCheck{RequireViewOnly: true}},
		MaxBackoff:      time.Second,
	})
	w := monero.NewWatcher(f.viewClient(t), f.daemonClient(t), l, monero.WatcherConfig{Account: acct, Gate: s, PollInterval: 100 * time.Millisecond})
	api := monero.NewAPIAdapter(s, w, l)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	startDone := make(chan error, 1)
	go func() { startDone <- s.Run(runCtx) }()
	go func() { _ = w.Run(runCtx) }()
	waitFor(t, func() bool { return s.Status().State == chains.Unreachable })
	if st := api.Status(); st.State != chains.Unreachable || !strings.Contains(st.Error, "wallet-rpc") {
		t.Fatalf("status while wallet-rpc is down: %+v", st)
	}
	if _, err := api.Allocate(ctx, ""); !errors.Is(err, monero.ErrNotReady) {
		t.Fatalf("allocate before the checks: %v", err)
	}
	if err := f.view.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	select {
	case err := <-startDone:
		if err != nil {
			t.Fatalf("starter: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the start checks did not pass after wallet-rpc came back: %+v", s.Status())
	}
	if _, err := api.Allocate(ctx, ""); err != nil {
		t.Fatalf("allocate after the checks: %v", err)
	}
	waitFor(t, func() bool { return api.Status().State == chains.Synced })
}

// TestStarterStopsOnWhatRetriesCannotFix: a spending wallet (with
// require_view_only), another wallet than the ledger's, and a URL whose path
// answers 404 end Run with their error at once.
func TestStarterStopsOnWhatRetriesCannotFix(t *testing.T) {
	f := need(t)
	ctx := ctxT(t)
	run := func(w *monero.WalletClient, d *monero.DaemonClient, acct uint32, viewOnly bool) error {
		s := monero.NewStarter(w, d, newLedger(t), monero.StarterConfig{
			AllocatorConfig: monero.AllocatorConfig{Account: acct, WalletCheck: monero.WalletCheck{RequireViewOnly: viewOnly}}})
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatalf("Run did not stop: %+v", s.Status())
			return nil
		}
	}
	if err := run(f.merchant.Client, nil, 0, true); !errors.Is(err, monero.ErrSpendingWallet) {
		t.Errorf("spending wallet: %v", err)
	}
	notFound := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "Not Found")
	}))
	defer notFound.Close()
	badWallet, _ := monero.NewWalletClient(notFound.URL+"/json_rpc", monero.ClientOptions{})
	if err := run(badWallet, nil, 0, true); !errors.Is(err, monero.ErrWrongPath) || !strings.Contains(err.Error(), "monero.wallet_rpc_url") {
		t.Errorf("wallet URL answering 404: %v", err)
	}
	badDaemon, _ := monero.NewDaemonClient(notFound.URL, monero.ClientOptions{})
	if err := run(f.viewClient(t), badDaemon, account(), true); !errors.Is(err, monero.ErrWrongPath) || !strings.Contains(err.Error(), "monero.daemon_rpc_url") {
		t.Errorf("daemon URL answering 404: %v", err)
	}
}
