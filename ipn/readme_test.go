package ipn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/readme"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// readmeExample returns the README example named name.
func readmeExample(t *testing.T, name string) readme.Block {
	t.Helper()
	md, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readme.Parse("README.md", md)
	if err != nil {
		t.Fatal(err)
	}
	b, err := readme.Find(blocks, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadmeIPNBody: the README's IPN body is, byte for byte (white space
// aside), what Payload renders for the notification it describes.
func TestReadmeIPNBody(t *testing.T) {
	var printed bytes.Buffer
	if err := json.Compact(&printed, []byte(readmeExample(t, "ipn-body").Text)); err != nil {
		t.Fatalf("the README's IPN body is not JSON: %v", err)
	}
	body, ctype, err := ipn.Payload(ledger.NotificationData{
		ID: 42,
		Subscription: ledger.Subscription{ID: 7, Chain: chains.BTC, Address: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
			MaxConfirms: 3, Format: "json"},
		Totals: ledger.Totals{Confirmed: 1_000_000, Height: 871234},
		Changes: []ledger.DepositChange{
			{TxID: "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b", Amount: 1_000_000,
				From: ledger.CountsUnconfirmed, To: ledger.CountsConfirmed, Reason: ledger.ReasonConfirmed},
			{TxID: "0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098", Amount: 250_000,
				From: ledger.CountsUnconfirmed, To: ledger.CountsNone, Reason: ledger.ReasonReplaced},
		},
		CreatedAt: time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC),
	})
	if err != nil || ctype != ipn.ContentTypeJSON {
		t.Fatal(ctype, err)
	}
	if !bytes.Equal(printed.Bytes(), body) {
		t.Fatalf("README IPN body:\n%s\nwhat ipnd sends:\n%s", printed.Bytes(), body)
	}
}

// TestReadmePythonReceiver runs the README's Python receiver, as printed,
// with one IPN_SECRET, behind a real ledger and IPN worker: a shop with
// two orders (two subscriptions to its one URL) acknowledges both (each
// subscription had its own secret before, and the second order's IPNs were
// refused, issue 13); after a rotation of the endpoint's secret the same
// receiver still acknowledges (IPNs carry both signatures during the grace
// period), then it is given the new secret, and after the grace period
// the old one no longer verifies.
func TestReadmePythonReceiver(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Unavailable(t, "python3 not found")
	}
	script := filepath.Join(t.TempDir(), "receiver.py")
	if err := os.WriteFile(script, []byte(readmeExample(t, "python-receiver").Text), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	url := "http://127.0.0.1:" + port + "/ipn"
	var receiver *exec.Cmd
	run := func(secret string) {
		t.Helper()
		if receiver != nil {
			receiver.Process.Kill()
			receiver.Wait()
		}
		receiver = exec.Command(py, script)
		receiver.Env = append(os.Environ(), "IPN_SECRET="+secret, "PORT="+port)
		if err := receiver.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200; i++ {
			if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
				c.Close()
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Fatal("the README receiver does not listen")
	}
	t.Cleanup(func() {
		if receiver != nil {
			receiver.Process.Kill()
			receiver.Wait()
		}
	})

	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := dbtest.Ledger(t, "sqlite", db.Options{Payload: ipn.Payload, Now: clock})
	ctx := context.Background()
	if err := l.SetStart(ctx, chains.XMR, chains.Block{Height: 99, Hash: "h99"}); err != nil {
		t.Fatal(err)
	}
	var subs []ledger.Subscription
	for i := range 2 {
		addr := fmt.Sprintf("8ReadmeOrder%d", i)
		acc, sub := uint32(0), uint32(i+1)
		if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: addr, AccountIndex: &acc, SubaddressIndex: &sub}); err != nil {
			t.Fatal(err)
		}
		secret, _ := ipn.NewSecret()
		s, _, err := l.Subscribe(ctx, chains.XMR, addr, url, 10, "json", secret)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	if subs[0].Secret != subs[1].Secret {
		t.Fatal("two orders to one URL have two secrets")
	}
	run(subs[0].Secret)
	w := ipn.NewWorker(l, ipn.Options{Workers: 2, PerHost: 2, Timeout: 5 * time.Second, PollInterval: 20 * time.Millisecond,
		RetrySchedule: []time.Duration{time.Hour}, AllowPrivate: true, Version: "test"})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })

	tx := 0
	// pay pays both orders and waits until each one's newest IPN is
	// settled: acknowledged, or refused once.
	pay := func() []ledger.Notification {
		t.Helper()
		for _, s := range subs {
			tx++
			if _, err := l.ApplyChainUpdate(ctx, chains.XMR, chains.ChainUpdate{Mempool: []chains.Payment{{TxID: fmt.Sprint("tx", tx), Address: s.Address, Amount: 7}}}); err != nil {
				t.Fatal(err)
			}
		}
		w.Notify()
		var out []ledger.Notification
		for _, s := range subs {
			deadline := time.Now().Add(20 * time.Second)
			for {
				ns, err := l.Notifications(ctx, s.ID, 1)
				if err != nil {
					t.Fatal(err)
				}
				if n := ns[0]; n.State == ledger.NoteDelivered || n.Attempts > 0 {
					out = append(out, n)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no attempt of subscription %d's IPN", s.ID)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		return out
	}
	delivered := func(step string, ns []ledger.Notification, want bool) {
		t.Helper()
		for _, n := range ns {
			if (n.State == ledger.NoteDelivered) != want {
				t.Fatalf("%s: subscription %d's IPN is %s (last status %d, %q)", step, n.SubscriptionID, n.State, n.LastStatus, n.LastError)
			}
		}
	}
	delivered("two orders, one secret", pay(), true)

	e, err := l.RotateEndpointSecret(ctx, url, "ipnsec_rotated-for-the-readme-test", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	delivered("rotated, the receiver still on the old secret", pay(), true)
	run(e.Secret)
	delivered("rotated, the receiver on the new secret", pay(), true)
	mu.Lock()
	now = now.Add(25 * time.Hour)
	mu.Unlock()
	delivered("after the grace period, the new secret", pay(), true)
	run(subs[0].Secret)
	refused := pay()
	delivered("after the grace period, the old secret", refused, false)
	for _, n := range refused {
		if n.LastStatus != 401 {
			t.Fatalf("the README receiver with the old secret answered %d, want 401", n.LastStatus)
		}
	}
}

// TestReadmeInvoiceIPN: the README's IPN of a paid invoice is what Payload
// renders for a subscription made with the invoice.
func TestReadmeInvoiceIPN(t *testing.T) {
	var printed bytes.Buffer
	if err := json.Compact(&printed, []byte(readmeExample(t, "invoice-ipn").Text)); err != nil {
		t.Fatalf("the README's invoice IPN is not JSON: %v", err)
	}
	body, _, err := ipn.Payload(ledger.NotificationData{
		ID: 43,
		Subscription: ledger.Subscription{ID: 7, Chain: chains.BTC, Address: "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el",
			MaxConfirms: 2, Format: "json"},
		Totals: ledger.Totals{Confirmed: 150_000, Height: 871235},
		Changes: []ledger.DepositChange{{TxID: "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b", Amount: 150_000,
			From: ledger.CountsUnconfirmed, To: ledger.CountsConfirmed, Reason: ledger.ReasonConfirmed}},
		CreatedAt: time.Date(2026, 11, 23, 14, 21, 0, 0, time.UTC),
		Invoice: &invoice.Notice{ID: "inv_gq2vzs7dyx5bkrm4hjw6ucfa3e", OrderID: "1001", Status: invoice.StatusPaid,
			AmountAtomic: "150000", PaidAtomic: "150000", PendingAtomic: "0", DueAtomic: "0", ExcessAtomic: "0",
			ExpiresAt: "2026-11-23T14:15:00.123456Z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(printed.Bytes(), body) {
		t.Fatalf("README invoice IPN:\n%s\nwhat ipnd sends:\n%s", printed.Bytes(), body)
	}
}
