package db_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ledger"
)

// TestEndpointSecretIsSharedAndRotates: every subscription to one URL is
// signed with the URL's secret (issue 13: each had its own, so a receiver
// with one secret refused the second order's IPNs); a rotation signs with
// both secrets for the grace period, then with the new one only.
func TestEndpointSecretIsSharedAndRotates(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	contractWith(t, db.Options{Now: clock}, func(t *testing.T, l *db.Ledger) {
		mustAddr(t, l, chains.BTC, "addrA", 0)
		mustAddr(t, l, chains.BTC, "addrB", 1)
		if err := l.SetStart(ctx, chains.BTC, blk(1)); err != nil {
			t.Fatal(err)
		}
		const url = "https://shop.example/ipn"
		a, _, err := l.Subscribe(ctx, chains.BTC, "addrA", url, 1, "", "first-secret")
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := l.Subscribe(ctx, chains.BTC, "addrB", url, 1, "", "second-secret")
		if err != nil || a.Secret != "first-secret" || b.Secret != "first-secret" || a.EndpointID != b.EndpointID {
			t.Fatalf("subscriptions to one URL: %q and %q (endpoints %d, %d), %v; want the URL's secret for both",
				a.Secret, b.Secret, a.EndpointID, b.EndpointID, err)
		}
		for _, addr := range []string{"addrA", "addrB"} {
			if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: "t" + addr, Address: addr, Amount: 1}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		secrets := func() map[int64][]string {
			t.Helper()
			ns, err := l.ClaimDueAt(ctx, "w", clock(), time.Second, 10)
			if err != nil {
				t.Fatal(err)
			}
			out := map[int64][]string{}
			for _, n := range ns {
				out[n.SubscriptionID] = append([]string{n.Secret}, n.ExtraSecrets...)
				if err := l.Defer(ctx, n, 0); err != nil {
					t.Fatal(err)
				}
			}
			return out
		}
		if got := secrets(); fmt.Sprint(got) != fmt.Sprint(map[int64][]string{a.ID: {"first-secret"}, b.ID: {"first-secret"}}) {
			t.Fatalf("signing secrets %v", got)
		}
		e, err := l.RotateEndpointSecret(ctx, url, "rotated", 24*time.Hour)
		if err != nil || e.Secret != "rotated" || e.PreviousSecret != "first-secret" || e.Subscriptions != 2 ||
			!e.PreviousUntil.Equal(now.Add(24*time.Hour).Truncate(time.Microsecond)) {
			t.Fatalf("RotateEndpointSecret = %+v, %v", e, err)
		}
		if got := secrets(); fmt.Sprint(got[a.ID]) != "[rotated first-secret]" || fmt.Sprint(got[b.ID]) != "[rotated first-secret]" {
			t.Fatalf("during the grace period: %v; want both signatures, the new one first", got)
		}
		mu.Lock()
		now = now.Add(24*time.Hour + time.Second)
		mu.Unlock()
		if got := secrets(); fmt.Sprint(got[a.ID]) != "[rotated]" {
			t.Fatalf("after the grace period: %v; want the new secret only", got)
		}
		if s, _, err := l.Subscribe(ctx, chains.BTC, "addrA", url, 1, "", "ignored"); err != nil || s.Secret != "rotated" {
			t.Fatalf("subscribing again answers secret %q (%v), want the endpoint's", s.Secret, err)
		}
		if _, err := l.RotateEndpointSecret(ctx, "https://unknown.example/", "x", time.Hour); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("rotating an unknown URL: %v", err)
		}
	})
}

// TestLegacySubscriptionSecretsKeepSigning: subscriptions made before
// endpoint secrets (schema 3) each had a secret; after the migration their
// IPNs carry the endpoint's signature and their own, so receivers keep
// verifying, until the first rotation's grace period ends.
func TestLegacySubscriptionSecretsKeepSigning(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			var mu sync.Mutex
			now := time.Now()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			l, err := db.Open(ctx, driver, dbtest.DSN(t, driver), db.Options{Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if _, _, err := l.MigrateUpTo(ctx, 3); err != nil {
				t.Fatal(err)
			}
			// Two orders, one shop URL, a secret each (the old schema).
			sum := sha256.Sum256([]byte("https://shop.example/ipn"))
			shopHash := hex.EncodeToString(sum[:])
			for i, s := range []string{"ipnsec_A", "ipnsec_B"} {
				if _, err := l.DB().Exec(`INSERT INTO addresses (chain, address, derivation_index, label, created_at) VALUES ('btc', ?, ?, '', 1)`,
					fmt.Sprintf("addr%d", i), i); err != nil {
					t.Fatal(err)
				}
				if _, err := l.DB().Exec(`INSERT INTO subscriptions (chain, address_id, url, url_hash, max_confirms, secret, format, active,
  created_at, updated_at) VALUES ('btc', ?, 'https://shop.example/ipn', ?, 1, ?, 'json', 1, 1, 1)`, i+1, shopHash, s); err != nil {
					t.Fatal(err)
				}
			}
			if from, to, err := l.Migrate(ctx); err != nil || from != 3 || to < 5 {
				t.Fatalf("Migrate = %d -> %d, %v", from, to, err)
			}
			if err := l.SetStart(ctx, chains.BTC, blk(1)); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if _, err := applyMempool(l, chains.BTC, []chains.Payment{{TxID: fmt.Sprint("t", i), Address: fmt.Sprint("addr", i), Amount: 1}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			signers := func() []string {
				ns, err := l.ClaimDueAt(ctx, "w", clock(), time.Second, 10)
				if err != nil || len(ns) != 2 {
					t.Fatalf("claim = %v, %v", ns, err)
				}
				var out []string
				for _, n := range ns {
					out = append(out, fmt.Sprint(append([]string{n.Secret}, n.ExtraSecrets...)))
					if err := l.Defer(ctx, n, 0); err != nil {
						t.Fatal(err)
					}
				}
				return out
			}
			// The endpoint's secret is one of the two; each IPN also carries
			// its subscription's own.
			if got := fmt.Sprint(signers()); got != "[[ipnsec_A] [ipnsec_A ipnsec_B]]" {
				t.Fatalf("after the migration: %s", got)
			}
			if _, err := l.RotateEndpointSecret(ctx, "https://shop.example/ipn", "ipnsec_new", time.Hour); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(signers()); got != "[[ipnsec_new ipnsec_A] [ipnsec_new ipnsec_A ipnsec_B]]" {
				t.Fatalf("in the rotation's grace period: %s", got)
			}
			mu.Lock()
			now = now.Add(2 * time.Hour)
			mu.Unlock()
			if got := fmt.Sprint(signers()); got != "[[ipnsec_new] [ipnsec_new]]" {
				t.Fatalf("after the grace period: %s", got)
			}
		})
	}
}

// TestAddressesAndTxidsCompareExactly: two base58 strings that differ only
// in case are two addresses, and two txids likewise (MySQL's default
// collation made them one; issue 13).
func TestAddressesAndTxidsCompareExactly(t *testing.T) {
	contract(t, func(t *testing.T, l *db.Ledger) {
		lower := mustAddr(t, l, chains.BTC, "1abc", 0)
		upper := mustAddr(t, l, chains.BTC, "1ABC", 1)
		if lower.ID == upper.ID {
			t.Fatal("1abc and 1ABC are one address")
		}
		if a, err := l.AddressByString(ctx, chains.BTC, "1ABC"); err != nil || a.ID != upper.ID {
			t.Fatalf("AddressByString(1ABC) = %+v, %v", a, err)
		}
		if _, err := l.AddressByString(ctx, chains.BTC, "1Abc"); !errors.Is(err, ledger.ErrNotFound) {
			t.Fatalf("AddressByString(1Abc) = %v; want not found", err)
		}
		if err := l.SetStart(ctx, chains.BTC, blk(1)); err != nil {
			t.Fatal(err)
		}
		ch, err := applyMempool(l, chains.BTC, []chains.Payment{
			{TxID: "aa", Address: "1abc", Amount: 1}, {TxID: "AA", Address: "1abc", Amount: 2}}, nil)
		if err != nil || ch.DepositsAdded != 2 {
			t.Fatalf("two txids differing in case: %+v, %v", ch, err)
		}
		if tot, _, err := l.Balance(ctx, chains.BTC, "1abc", 0); err != nil || tot.Confirmed != 3 {
			t.Fatalf("Balance = %+v, %v", tot, err)
		}
	})
}
