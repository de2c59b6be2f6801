package checkout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/invoice"
)

// wantState checks an invoice through GET /invoices/{id}.
func (s *stack) wantState(inv created, status invoice.Status, paid, pending, due, excess uint64) map[string]any {
	s.t.Helper()
	m := s.get(inv.ID)
	got := fmt.Sprintf("%v paid %v pending %v due %v excess %v", m["status"], m["paid_atomic"], m["pending_atomic"], m["due_atomic"], m["excess_atomic"])
	if want := fmt.Sprintf("%s paid %d pending %d due %d excess %d", status, paid, pending, due, excess); got != want {
		s.t.Fatalf("invoice %s: %s, want %s", inv.ID, got, want)
	}
	return m
}

// lastBlock checks the newest IPN's invoice block and totals.
func lastBlock(t *testing.T, ipns []ipnBody, paid, pending, due, excess uint64) {
	t.Helper()
	n := ipns[len(ipns)-1].Invoice
	got := fmt.Sprintf("paid %s pending %s due %s excess %s", n.PaidAtomic, n.PendingAtomic, n.DueAtomic, n.ExcessAtomic)
	if want := fmt.Sprintf("paid %d pending %d due %d excess %d", paid, pending, due, excess); got != want {
		t.Fatalf("IPN invoice block: %s, want %s", got, want)
	}
}

// Invoices on Bitcoin (btcd regtest) through the whole of ipnd: every
// state a payment can bring, each transition one signed IPN with the
// invoice block, acknowledged by echo.
func TestInvoicesBitcoin(t *testing.T) {
	s := newStack(t, stackOptions{})
	node := s.btc
	pay := func(inv created, amount uint64) { node.Pay(btcdtest.Output{Address: inv.Address, Amount: amount}) }

	t.Run("exact payment: processing then paid", func(t *testing.T) {
		s.t = t
		inv := s.create(chains.BTC, 150_000, "", 2, nil)
		s.wantState(inv, invoice.StatusNew, 0, 0, 150_000, 0)
		pay(inv, 150_000)
		s.waitIPNs(inv, invoice.StatusProcessing)
		node.Generate(1) // 1 of 2 confirmations: no transition
		node.Generate(1)
		ipns := s.waitIPNs(inv, invoice.StatusProcessing, invoice.StatusPaid)
		lastBlock(t, ipns, 150_000, 0, 0, 0)
		if ipns[1].ConfirmedAtomic != "150000" || ipns[1].UnconfirmedAtomic != "0" {
			t.Fatalf("paid IPN totals %s/%s", ipns[1].ConfirmedAtomic, ipns[1].UnconfirmedAtomic)
		}
		s.wantState(inv, invoice.StatusPaid, 150_000, 0, 0, 0)
	})

	t.Run("underpaid then topped up: paid", func(t *testing.T) {
		s.t = t
		inv := s.create(chains.BTC, 100_000, "", 1, nil)
		pay(inv, 60_000)
		ipns := s.waitIPNs(inv, invoice.StatusNew) // the totals moved; still new, 40,000 due
		lastBlock(t, ipns, 0, 60_000, 40_000, 0)
		pay(inv, 40_000)
		s.waitIPNs(inv, invoice.StatusNew, invoice.StatusProcessing)
		node.Generate(1)
		ipns = s.waitIPNs(inv, invoice.StatusNew, invoice.StatusProcessing, invoice.StatusPaid)
		lastBlock(t, ipns, 100_000, 0, 0, 0)
	})

	t.Run("one payment too much: overpaid with the excess", func(t *testing.T) {
		s.t = t
		inv := s.create(chains.BTC, 100_000, "", 1, nil)
		pay(inv, 123_456)
		s.waitIPNs(inv, invoice.StatusProcessing)
		node.Generate(1)
		ipns := s.waitIPNs(inv, invoice.StatusProcessing, invoice.StatusOverpaid)
		lastBlock(t, ipns, 123_456, 0, 0, 23_456)
		s.wantState(inv, invoice.StatusOverpaid, 123_456, 0, 0, 23_456)
	})

	t.Run("nothing: expired at expires_at; a payment after: late", func(t *testing.T) {
		s.t = t
		inv := s.create(chains.BTC, 50_000, "2", 1, nil)
		s.waitIPNs(inv, invoice.StatusExpired)
		m := s.wantState(inv, invoice.StatusExpired, 0, 0, 50_000, 0)
		updated, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(m["updated_at"]))
		if updated.Before(inv.ExpiresAt) {
			t.Fatalf("expired at %v, before expires_at %v", updated, inv.ExpiresAt)
		}
		pay(inv, 50_000)
		ipns := s.waitIPNs(inv, invoice.StatusExpired, invoice.StatusLate)
		lastBlock(t, ipns, 0, 50_000, 0, 0)
	})

	t.Run("a part, then expiry: underpaid with the amount due", func(t *testing.T) {
		s.t = t
		inv := s.create(chains.BTC, 80_000, "3", 1, nil)
		pay(inv, 30_000)
		s.waitIPNs(inv, invoice.StatusNew)
		ipns := s.waitIPNs(inv, invoice.StatusNew, invoice.StatusUnderpaid)
		lastBlock(t, ipns, 0, 30_000, 50_000, 0)
	})

	t.Run("a reorg takes the paying transaction: reversed", func(t *testing.T) {
		s.t = t
		b := btcdtest.Start(t, btcdtest.Options{Wallet: node.Wallet})
		b.Connect(node)
		b.WaitSynced(node)
		inv := s.create(chains.BTC, 70_000, "", 1, nil)
		btcdtest.Split(node, b)
		other := btcdtest.NewWallet(t).Address.EncodeAddress()
		paying, steal := node.Conflicting([]btcdtest.Output{{Address: inv.Address, Amount: 70_000}},
			[]btcdtest.Output{{Address: other, Amount: 70_000}})
		if err := node.Send(paying); err != nil {
			t.Fatal(err)
		}
		s.waitIPNs(inv, invoice.StatusProcessing)
		node.Generate(1)
		s.waitIPNs(inv, invoice.StatusProcessing, invoice.StatusPaid)
		// The other side mines a longer branch with a double spend of the
		// paying transaction's input (last: btcd cleans its mempool of
		// double spends only for blocks that arrive while it is current).
		b.Generate(2)
		if err := b.Send(steal); err != nil {
			t.Fatal(err)
		}
		b.Generate(1)
		node.Reconnect(b)
		ipns := s.waitIPNs(inv, invoice.StatusProcessing, invoice.StatusPaid, invoice.StatusReversed)
		lastBlock(t, ipns, 0, 0, 70_000, 0)
		if ipns[2].ConfirmedAtomic != "0" || ipns[2].UnconfirmedAtomic != "0" {
			t.Fatalf("reversed IPN totals %s/%s", ipns[2].ConfirmedAtomic, ipns[2].UnconfirmedAtomic)
		}
		b.Stop()
	})
}

// Invoices on Monero (monerod and a view-only wallet-rpc on regtest):
// one transfer pays three invoices (exact, a part, too much), a top-up,
// an expiry, a late payment and a reorg that takes a payment away.
func TestInvoicesMonero(t *testing.T) {
	s := newStack(t, stackOptions{monero: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	x := s.xmr
	const coin = 1_000_000_000_000
	transfer := func(dests ...monerotest.Destination) string {
		t.Helper()
		if _, err := x.miner.Client.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		txid, err := x.miner.Transfer(ctx, dests...)
		if err != nil {
			t.Fatalf("transfer: %v", err)
		}
		return txid
	}
	mine := func(txids ...string) {
		t.Helper()
		if _, err := x.net.MineTx(ctx, x.minerAddr, txids...); err != nil {
			t.Fatal(err)
		}
	}

	exact := s.create(chains.XMR, coin, "", 1, nil)
	part := s.create(chains.XMR, coin, "", 1, nil)
	over := s.create(chains.XMR, coin, "", 1, nil)
	expiring := s.create(chains.XMR, coin, "2", 1, nil)
	tx := transfer(monerotest.Destination{Address: exact.Address, Amount: coin},
		monerotest.Destination{Address: part.Address, Amount: coin / 4},
		monerotest.Destination{Address: over.Address, Amount: coin + coin/2})
	s.waitIPNs(exact, invoice.StatusProcessing)
	s.waitIPNs(part, invoice.StatusNew)
	s.waitIPNs(over, invoice.StatusProcessing)
	s.waitIPNs(expiring, invoice.StatusExpired)
	mine(tx)
	lastBlock(t, s.waitIPNs(exact, invoice.StatusProcessing, invoice.StatusPaid), coin, 0, 0, 0)
	lastBlock(t, s.waitIPNs(over, invoice.StatusProcessing, invoice.StatusOverpaid), coin+coin/2, 0, 0, coin/2)
	// The part confirmed: the totals moved, the status did not.
	lastBlock(t, s.waitIPNs(part, invoice.StatusNew, invoice.StatusNew), coin/4, 0, 3*coin/4, 0)

	// The top-up and the late payment in one transfer.
	tx = transfer(monerotest.Destination{Address: part.Address, Amount: 3 * coin / 4},
		monerotest.Destination{Address: expiring.Address, Amount: coin})
	s.waitIPNs(part, invoice.StatusNew, invoice.StatusNew, invoice.StatusProcessing)
	lastBlock(t, s.waitIPNs(expiring, invoice.StatusExpired, invoice.StatusLate), 0, coin, 0, 0)
	mine(tx)
	lastBlock(t, s.waitIPNs(part, invoice.StatusNew, invoice.StatusNew, invoice.StatusProcessing, invoice.StatusPaid), coin, 0, 0, 0)

	// A reorg that takes the paying transfer away: popped, dropped from
	// the pool, the chain grows without it.
	rev := s.create(chains.XMR, coin/2, "", 1, nil)
	tx = transfer(monerotest.Destination{Address: rev.Address, Amount: coin / 2})
	s.waitIPNs(rev, invoice.StatusProcessing)
	mine(tx)
	s.waitIPNs(rev, invoice.StatusProcessing, invoice.StatusPaid)
	if err := x.net.Reorg(ctx, 1, 2, x.minerAddr); err != nil {
		t.Fatal(err)
	}
	// The wallet may see the popped transfer back in the pool for a moment
	// (paid -> processing) before the pool is flushed.
	lastBlock(t, s.waitIPNsOneOf(rev,
		[]invoice.Status{invoice.StatusProcessing, invoice.StatusPaid, invoice.StatusReversed},
		[]invoice.Status{invoice.StatusProcessing, invoice.StatusPaid, invoice.StatusProcessing, invoice.StatusReversed}),
		0, 0, coin/2, 0)
}
