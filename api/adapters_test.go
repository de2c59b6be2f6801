package api

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ipn"
)

// regtestAccount is a fixed regtest account key m/84'/1'/0' (public half).
func regtestAccount(t testing.TB) string {
	seed := sha256.Sum256([]byte("ipnd api test account"))
	k, err := hdkeychain.NewMaster(seed[:], &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint32{84, 1, 0} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	return pub.String()
}

// newRealHarness serves the API with the chains' own adapters: Bitcoin's
// with a real deriver (P2WPKH on regtest: bcrt1q… addresses), Monero's
// without a wallet (it checks addresses and reads the ledger; watching a
// new subaddress would need the wallet).
func newRealHarness(t testing.TB, driver string) *harness {
	t.Helper()
	h := &harness{t: t, l: dbtest.Ledger(t, driver, db.Options{Payload: ipn.Payload}), tip: map[chains.Chain]int64{}, auth: true}
	d, err := bitcoin.NewDeriver("regtest", regtestAccount(t), "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	cs := map[chains.Chain]Chain{
		chains.BTC: bitcoin.NewAPIAdapter(d, h.l, nil),
		chains.XMR: monero.NewAPIAdapter(nil, nil, h.l),
	}
	s, err := New(testOptions(h.l, cs, harnessOpts{}))
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	h.srv = httptest.NewServer(s.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// TestCanonicalAddressesWithRealAdapters: an all-upper-case bech32 address
// (valid, common from QR codes) works at every endpoint and is answered
// in its one stored form, lower case (issue 13: /subscribe and /btc_ipn
// answered 503, /balance and /btc 404 on SQLite); base58 addresses are
// exact: a case variant of a Monero address is another address.
func TestCanonicalAddressesWithRealAdapters(t *testing.T) {
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			h := newRealHarness(t, driver)
			addr := h.allocBTC()
			if !strings.HasPrefix(addr, "bcrt1q") || addr != strings.ToLower(addr) {
				t.Fatalf("allocated %q", addr)
			}
			h.mine(chains.BTC, pay("aa11", addr, 120_000))
			upper := strings.ToUpper(addr)
			m := wantOK(t, h.get("/balance?address="+upper+"&max_confirms=1"))
			if m["address"] != addr || m["confirmed_atomic"] != "120000" {
				t.Fatalf("/balance with the upper-case form: %v", m)
			}
			if a := h.get("/btc?address=" + upper + "&max_confirms=1"); a.code != 200 || string(a.body) != `{"confirmed":0.0012,"unconfirmed":0}`+"\n" {
				t.Fatalf("/btc with the upper-case form: %d %s", a.code, a.body)
			}
			m = wantOK(t, h.postJSON("/subscribe", map[string]any{"address": upper, "url": publicURL, "max_confirms": 1}))
			if m["address"] != addr || m["created"] != true {
				t.Fatalf("/subscribe with the upper-case form: %v", m)
			}
			again := wantOK(t, h.postJSON("/subscribe", map[string]any{"address": addr, "url": publicURL, "max_confirms": 1}))
			if again["id"] != m["id"] || again["created"] != false {
				t.Fatalf("the lower-case form made another subscription: %v then %v", m, again)
			}
			if a := h.send("POST", "/btc_ipn", "application/x-www-form-urlencoded",
				[]byte("address="+upper+"&url=http://93.184.216.34/legacy&max_confirms=1")); a.code != 200 || string(a.body) != "success" {
				t.Fatalf("/btc_ipn with the upper-case form: %d %s", a.code, a.body)
			}
			ns, err := h.l.Notifications(context.Background(), mustInt(t, m["id"]), 1)
			if err != nil || len(ns) != 1 || ns[0].Address != addr || ns[0].Confirmed != 120_000 {
				t.Fatalf("the subscription's first IPN: %+v, %v", ns, err)
			}
			// Base58 (P2PKH) is exact: a case-altered string is no address.
			key, _ := btcec.NewPrivateKey()
			p2pkh, _ := btcutil.NewAddressPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
			legacy := p2pkh.EncodeAddress()
			wantOK(t, h.postJSON("/subscribe", map[string]any{"address": legacy, "url": publicURL}))
			wantError(t, h.get("/balance?address="+swapCase(legacy)), 400, "address")
			// Monero: a subaddress the ledger has is answered; the same
			// characters in another case are a different address.
			xmr := "8" + strings.Repeat("A", 47) + strings.Repeat("b", 47)
			acc, sub := uint32(0), uint32(1)
			if _, err := h.l.EnsureAddress(context.Background(), chains.Address{Chain: chains.XMR, Address: xmr, AccountIndex: &acc, SubaddressIndex: &sub}); err != nil {
				t.Fatal(err)
			}
			wantOK(t, h.get("/balance?address="+xmr))
			wantError(t, h.get("/balance?address="+strings.Replace(xmr, "A", "a", 1)), 404, "address")
			wantOK(t, h.postJSON("/subscribe", map[string]any{"address": xmr, "url": publicURL}))
		})
	}
}

func mustInt(t *testing.T, v any) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(fmt.Sprint(v), &n); err != nil {
		t.Fatalf("%v is not an integer", v)
	}
	return n
}

func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, s)
}

// TestConcurrentAllocationsOverHTTP: 200 concurrent POST /addresses on
// MySQL with the real Bitcoin adapter all succeed with distinct indexes
// (issue 13: 123 of 200 answered 503, deadlocks). The latency
// percentiles are logged (measured, not asserted).
func TestConcurrentAllocationsOverHTTP(t *testing.T) {
	h := newRealHarness(t, "mysql")
	const n = 200
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
		seen  = map[string]bool{}
		took  []time.Duration
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			a := h.postJSON("/addresses", map[string]any{"chain": "btc"})
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			codes[a.code]++
			took = append(took, d)
			if a.code == 200 {
				addr := a.json(t)["address"].(string)
				if seen[addr] {
					t.Errorf("address %s handed out twice", addr)
				}
				seen[addr] = true
			}
		}()
	}
	close(start)
	wg.Wait()
	if codes[200] != n {
		t.Fatalf("answers by status %v; want %d × 200", codes, n)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("%d concurrent POST /addresses on MySQL: p50 %v, p99 %v, max %v", n, took[n/2], took[n*99/100], took[n-1])
}
