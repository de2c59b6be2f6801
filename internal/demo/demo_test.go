package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/internal/testenv"
)

var (
	buildOnce sync.Once
	ipndBin   string
	buildErr  error
)

// ipnd builds the ipnd binary once for the package's tests and checks that
// btcd, monerod and monero-wallet-rpc are there (skip, or fail under
// make test, when one is missing).
func ipnd(t *testing.T) string {
	t.Helper()
	if _, err := btcdtest.LookBinary(); err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	if _, _, err := monerotest.Binaries(); err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ipnd-demo-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		ipndBin = filepath.Join(dir, "ipnd")
		out, err := exec.Command("go", "build", "-o", ipndBin, "github.com/ipnd/ipnd/cmd/ipnd").CombinedOutput()
		if err != nil {
			buildErr = errors.New(err.Error() + ": " + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build ipnd: %v", buildErr)
	}
	return ipndBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ipndBin != "" {
		os.RemoveAll(filepath.Dir(ipndBin))
	}
	os.Exit(code)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// assertAllGone checks that run left no process and no directory behind.
func assertAllGone(t *testing.T, res *result) {
	t.Helper()
	if res == nil {
		t.Fatal("run returned no result")
	}
	if _, err := os.Stat(res.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo's directory %s is still there (%v)", res.Dir, err)
	}
	if left := children(); len(left) > 0 {
		t.Errorf("processes started by the demo still run: %v", left)
	}
}

// TestDemo runs the whole demo: both chains, ipnd with SQLite, the
// receiver; an invoice on each chain with its checkout page printed; each
// address's IPNs go from unconfirmed to confirmed with the exact amounts
// paid, the invoices from processing to paid, every signature verifies,
// and nothing is left behind.
func TestDemo(t *testing.T) {
	bin := ipnd(t)
	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var steps []string
	res, err := run(ctx, options{IPND: bin, Confirms: 2, Out: out, OnStep: func(s string) { steps = append(steps, s) }})
	if err != nil {
		t.Fatalf("demo failed: %v\noutput:\n%s", err, out)
	}
	defer func() {
		if t.Failed() {
			t.Logf("output:\n%s\nipnd log (tail):\n%s", out, tail(res.IPNDLog, 40))
		}
	}()
	assertAllGone(t, res)
	if got := strings.Join(steps, ","); got != "nodes,ipnd,invoiced,paid,unconfirmed,confirmed" {
		t.Errorf("steps %s", got)
	}
	want := map[chains.Chain]uint64{chains.BTC: btcPayment, chains.XMR: xmrPayment}
	if len(res.Payments) != 2 {
		t.Fatalf("%d payments in the result, want 2", len(res.Payments))
	}
	for _, p := range res.Payments {
		paid := want[p.Chain]
		if p.Paid != paid {
			t.Errorf("%s: paid %d, want %d", p.Chain, p.Paid, paid)
		}
		if len(p.IPNs) < 2 {
			t.Errorf("%s: IPNs %v, want unconfirmed then confirmed", p.Chain, p.IPNs)
			continue
		}
		if p.IPNs[0] != (totals{Unconfirmed: paid}) {
			t.Errorf("%s: first IPN %+v, want unconfirmed %d", p.Chain, p.IPNs[0], paid)
		}
		if last := p.IPNs[len(p.IPNs)-1]; last != (totals{Confirmed: paid}) {
			t.Errorf("%s: last IPN %+v, want confirmed %d", p.Chain, last, paid)
		}
		if p.Balance != (totals{Confirmed: paid}) {
			t.Errorf("%s: final /balance %+v, want confirmed %d", p.Chain, p.Balance, paid)
		}
		// The invoice was paid exactly: processing, then paid, one IPN each.
		if p.Status != "paid" || strings.Join(p.Statuses, ",") != "processing,paid" {
			t.Errorf("%s: invoice %s ends %q after IPN statuses %v, want processing then paid", p.Chain, p.Invoice, p.Status, p.Statuses)
		}
		if !strings.Contains(out.String(), "checkout "+unit(p.Chain)+" http://127.0.0.1:") ||
			!strings.Contains(out.String(), "/pay/"+p.Invoice) {
			t.Errorf("output lacks %s's checkout page", p.Chain)
		}
		// The person watching sees both IPNs with amounts in coin units.
		for _, line := range []string{
			"IPN      " + unit(p.Chain) + " " + short(p.Address) + ": confirmed " + p.Chain.FormatAmount(0) + ", unconfirmed " + p.Chain.FormatAmount(paid),
			"IPN      " + unit(p.Chain) + " " + short(p.Address) + ": confirmed " + p.Chain.FormatAmount(paid) + ", unconfirmed " + p.Chain.FormatAmount(0),
		} {
			if !strings.Contains(out.String(), line) {
				t.Errorf("output lacks %q", line)
			}
		}
	}
	if res.Rejected != 0 {
		t.Errorf("the receiver rejected %d IPNs", res.Rejected)
	}
	if res.IPNs < 4 {
		t.Errorf("%d IPNs acknowledged, want at least 4", res.IPNs)
	}
	if strings.Contains(res.IPNDLog, "ipnsec_") {
		t.Errorf("ipnd's log shows a subscription secret")
	}
}

// TestDemoInterrupted cancels the demo (what Ctrl-C does) while everything
// runs and a payment is pending: run returns the cancellation and nothing
// is left running or on disk.
func TestDemoInterrupted(t *testing.T) {
	bin := ipnd(t)
	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := run(ctx, options{IPND: bin, Confirms: 2, Out: out, OnStep: func(s string) {
		if s == "paid" {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run after cancel: %v, want context.Canceled\noutput:\n%s", err, out)
	}
	assertAllGone(t, res)
	if !strings.Contains(out.String(), "paid     XMR") || strings.Contains(out.String(), "summary:") {
		t.Errorf("the demo was not cancelled after the payments:\n%s", out)
	}
}
