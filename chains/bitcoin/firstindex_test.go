package bitcoin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/rpcproxy"
	"github.com/ipnd/ipnd/config"
)

// countingScanner counts scantxoutset calls.
type countingScanner struct {
	UTXOScanner
	mu    sync.Mutex
	calls int
}

func (c *countingScanner) ScanUnspent(ctx context.Context, scripts [][]byte) ([]Unspent, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.UTXOScanner.ScanUnspent(ctx, scripts)
}

// failingScanner fails the test when asked.
type failingScanner struct{ t *testing.T }

func (f failingScanner) ScanUnspent(context.Context, [][]byte) ([]Unspent, error) {
	f.t.Error("a ledger with addresses scanned the UTXO set")
	return nil, errors.New("not expected")
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func bufferLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// On litecoind (scantxoutset) an empty ledger starts after the last of the
// key's first addresses that holds coins, scanning window after window
// while a used address lies within the gap limit of the end; it logs what
// it found. A ledger with addresses does not scan; first_index is a floor.
func TestPrepareIndexesLitecoind(t *testing.T) {
	n := sharedLTC(t)
	if n.Height() < 101 {
		n.Fund()
	}
	ctx := context.Background()
	d, err := LitecoinFamily.NewDeriver("regtest", seededTPub(t, "first index"), "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	at := func(i uint32) string { a, _ := d.Address(i); return a }
	// The key was used before this ledger: indexes 2, 7 and (beyond the
	// gap of 5 after 7) 30.
	for _, i := range []uint32{2, 7, 7, 30} {
		n.SendToAddress(at(i), 100_000+int64(i))
	}
	n.Generate(1)

	l := openLedger(t, ctx, filepath.Join(t.TempDir(), "l.db"))
	log, logs := bufferLogger()
	client := ltcClient(n)
	defer client.CloseIdle()
	scanner := &countingScanner{UTXOScanner: client}
	next, err := PrepareIndexes(ctx, d, l, scanner, FirstIndexConfig{GapLimit: 5, Window: 6, Logger: log})
	if err != nil || next != 8 {
		t.Fatalf("PrepareIndexes: %d, %v; want 8", next, err)
	}
	// Windows 0-5 (2 used), 6-11 (7 used, within 5 of 11), 12-17: none.
	if scanner.calls != 3 {
		t.Errorf("%d scans, want 3", scanner.calls)
	}
	for _, want := range []string{"addresses of the key already hold coins", "addresses_with_coins=2", "coins=3",
		"amount=0.00300016", "highest_used_index=7", "next_index=8", "subsystem=ltc"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	alloc := NewAllocator(d, l, nil)
	a, err := alloc.Allocate(ctx, "")
	if err != nil || *a.DerivationIndex != 8 || a.Address != at(8) {
		t.Fatalf("first allocation %+v, %v; want index 8", a, err)
	}
	// A ledger with addresses keeps its counter and does not scan.
	if next, err := PrepareIndexes(ctx, d, l, failingScanner{t}, FirstIndexConfig{GapLimit: 5}); err != nil || next != 9 {
		t.Fatalf("non-empty ledger: %d, %v", next, err)
	}
	// first_index is a floor for the scan and the counter.
	l2 := openLedger(t, ctx, filepath.Join(t.TempDir(), "l2.db"))
	if next, err := PrepareIndexes(ctx, d, l2, ltcClient(n), FirstIndexConfig{FirstIndex: 20, GapLimit: 5}); err != nil || next != 31 {
		t.Fatalf("first_index 20 with index 30 used: %d, %v; want 31", next, err)
	}
	// Through the allocator: Allocate waits for the background check.
	l3 := openLedger(t, ctx, filepath.Join(t.TempDir(), "l3.db"))
	alloc3 := NewAllocator(d, l3, nil)
	alloc3.PrepareIndexes(ctx, l3, ltcClient(n), FirstIndexConfig{GapLimit: 25})
	if a, err := alloc3.Allocate(ctx, ""); err != nil || *a.DerivationIndex != 31 {
		t.Fatalf("Allocate after the background check: %+v, %v; want 31", a, err)
	}
}

// The index check runs once per ledger and chain: a ledger still without
// addresses after a check (ipnd restarted before handing any out) keeps
// the counter the check chose and asks the node nothing; first_index
// still raises it.
func TestPrepareIndexesOncePerLedger(t *testing.T) {
	n := sharedLTC(t)
	if n.Height() < 101 {
		n.Fund()
	}
	ctx := context.Background()
	d, err := LitecoinFamily.NewDeriver("regtest", seededTPub(t, "first index once"), "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	a4, _ := d.Address(4)
	n.SendToAddress(a4, 100_000)
	n.Generate(1)
	p := rpcproxy.New(t, n.RPCHost)
	rc := ltcClient(n).cfg
	rc.Host = p.Host // scantxoutset calls are counted at the proxy
	client := NewClient(rc)
	defer client.CloseIdle()

	l := openLedger(t, ctx, filepath.Join(t.TempDir(), "l.db"))
	if next, err := PrepareIndexes(ctx, d, l, client, FirstIndexConfig{GapLimit: 5, Window: 20}); err != nil || next != 5 {
		t.Fatalf("first check: %d, %v; want 5", next, err)
	}
	if got := p.Calls("scantxoutset"); got != 1 {
		t.Fatalf("first check: %d scantxoutset calls, want 1", got)
	}
	// A restart: no address was handed out.
	log, logs := bufferLogger()
	if next, err := PrepareIndexes(ctx, d, l, client, FirstIndexConfig{GapLimit: 5, Window: 20, Logger: log}); err != nil || next != 5 {
		t.Fatalf("second check: %d, %v; want 5", next, err)
	}
	if got := p.Calls("scantxoutset"); got != 1 {
		t.Errorf("second check: %d scantxoutset calls in all, want 1 (the first check's)", got)
	}
	if strings.Contains(logs.String(), "already hold coins") {
		t.Errorf("second check logged a scan: %s", logs)
	}
	if next, err := PrepareIndexes(ctx, d, l, client, FirstIndexConfig{FirstIndex: 12, GapLimit: 5, Window: 20}); err != nil || next != 12 {
		t.Fatalf("first_index 12 after the check: %d, %v; want 12", next, err)
	}
	if got := p.Calls("scantxoutset"); got != 1 {
		t.Errorf("first_index raised: %d scantxoutset calls in all, want 1", got)
	}
	a, err := NewAllocator(d, l, nil).Allocate(ctx, "")
	if err != nil || *a.DerivationIndex != 12 {
		t.Fatalf("allocation %+v, %v; want index 12", a, err)
	}
}

// btcd has no scantxoutset: an empty ledger starts at first_index, with a
// warning that says how to set it.
func TestPrepareIndexesBtcd(t *testing.T) {
	node := btcdtest.Shared(t)
	ctx := context.Background()
	d, err := NewDeriver("regtest", seededTPub(t, "btcd first index"), "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	client := NewClient(RPCConfig{Host: node.RPCHost, User: node.User, Password: config.Secret(node.Pass)})
	if _, err := client.ScanUnspent(ctx, nil); !errors.Is(err, ErrNoUTXOScan) {
		t.Fatalf("btcd scantxoutset: %v, want ErrNoUTXOScan", err)
	}
	l := openLedger(t, ctx, filepath.Join(t.TempDir(), "l.db"))
	log, logs := bufferLogger()
	if next, err := PrepareIndexes(ctx, d, l, client, FirstIndexConfig{GapLimit: 20, Logger: log}); err != nil || next != 0 {
		t.Fatalf("PrepareIndexes: %d, %v", next, err)
	}
	for _, want := range []string{"level=WARN", "no scantxoutset", "set bitcoin.first_index to one past the highest index used",
		"setting=bitcoin.first_index"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// Nothing was checked: nothing is recorded, and the next start warns
	// again (a node with scantxoutset would check).
	if _, ok, err := l.AddressCounter(ctx, chains.BTC); err != nil || ok {
		t.Fatalf("address counter after a check that could not scan: %v, %v; want none", ok, err)
	}
	logAgain, logsAgain := bufferLogger()
	if next, err := PrepareIndexes(ctx, d, l, client, FirstIndexConfig{GapLimit: 20, Logger: logAgain}); err != nil || next != 0 {
		t.Fatalf("PrepareIndexes again: %d, %v", next, err)
	}
	if !strings.Contains(logsAgain.String(), "no scantxoutset") {
		t.Errorf("the second start does not warn: %s", logsAgain)
	}
	l2 := openLedger(t, ctx, filepath.Join(t.TempDir(), "l2.db"))
	log2, logs2 := bufferLogger()
	if next, err := PrepareIndexes(ctx, d, l2, client, FirstIndexConfig{FirstIndex: 40, Logger: log2}); err != nil || next != 40 {
		t.Fatalf("first_index 40: %d, %v", next, err)
	}
	if strings.Contains(logs2.String(), "WARN") || !strings.Contains(logs2.String(), "first_index=40") {
		t.Errorf("with first_index set, an info line: %s", logs2)
	}
	a, err := NewAllocator(d, l2, nil).Allocate(ctx, "")
	if err != nil || *a.DerivationIndex != 40 {
		t.Fatalf("allocation %+v, %v; want index 40", a, err)
	}
	if _, ok, _ := l2.Tip(ctx, chains.BTC); ok {
		t.Error("the check wrote a tip")
	}
}

// everywhereScanner reports one coin on every script asked about: a node
// that would keep the check scanning for ever.
type everywhereScanner struct{ calls int }

func (e *everywhereScanner) ScanUnspent(_ context.Context, scripts [][]byte) ([]Unspent, error) {
	e.calls++
	out := make([]Unspent, len(scripts))
	for i, s := range scripts {
		out[i] = Unspent{Script: s, Amount: 1}
	}
	return out, nil
}

// The check stops after maxScanWindows scans, starts after what it saw and
// says how to go further.
func TestPrepareIndexesBounded(t *testing.T) {
	ctx := context.Background()
	d, err := LitecoinFamily.NewDeriver("regtest", seededTPub(t, "bounded"), "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	l := openLedger(t, ctx, filepath.Join(t.TempDir(), "l.db"))
	log, logs := bufferLogger()
	scanner := &everywhereScanner{}
	next, err := PrepareIndexes(ctx, d, l, scanner, FirstIndexConfig{GapLimit: 2, Window: 3, Logger: log})
	if err != nil || next != 3*maxScanWindows || scanner.calls != maxScanWindows {
		t.Fatalf("next %d after %d scans (%v); want %d after %d", next, scanner.calls, err, 3*maxScanWindows, maxScanWindows)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "set litecoin.first_index past its highest used index") {
		t.Errorf("no warning:\n%s", logs)
	}
}

// scantxoutset amounts are read with the client's family: its decimals,
// and its money supply as the limit (Litecoin's 84 million coins, more
// than Bitcoin's 21 million).
func TestScanUnspentFamilyAmounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		fmt.Fprintf(w, `{"id":%s,"error":null,"result":{"success":true,"unspents":[{"scriptPubKey":"0014%040x","amount":50000000.00000001}]}}`, req.ID, 0)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	got, err := NewClient(RPCConfig{Host: host, User: "u", Password: "p", Section: "litecoin"}).ScanUnspent(context.Background(), nil)
	if err != nil || len(got) != 1 || got[0].Amount != 5_000_000_000_000_001 {
		t.Fatalf("litecoin: %+v %v", got, err)
	}
	_, err = NewClient(RPCConfig{Host: host, User: "u", Password: "p", Section: "bitcoin"}).ScanUnspent(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "above Bitcoin's money supply") {
		t.Fatalf("bitcoin: %v, want an amount above the money supply", err)
	}
}
