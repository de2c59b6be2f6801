package monero_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// oddWallet sits between the watcher and the real view wallet-rpc and,
// while mode is set, spoils the get_transfers entries of the chosen
// transactions: one poll's odd data.
type oddWallet struct {
	mu    sync.Mutex
	mode  string
	txids map[string]bool
}

func (o *oddWallet) set(mode string, txids ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mode, o.txids = mode, map[string]bool{}
	for _, id := range txids {
		o.txids[id] = true
	}
}

func (o *oddWallet) proxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	direct := p.Director
	p.Director = func(r *http.Request) { direct(r); r.Header.Del("Accept-Encoding") }
	p.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = o.spoil(body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// spoil rewrites a get_transfers answer per the mode (numbers kept exact).
func (o *oddWallet) spoil(body []byte) []byte {
	o.mu.Lock()
	mode, txids := o.mode, o.txids
	o.mu.Unlock()
	if mode == "" {
		return body
	}
	var env map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil || env["result"] == nil {
		return body
	}
	var res map[string]json.RawMessage
	if json.Unmarshal(env["result"], &res) != nil || (res["in"] == nil && res["pool"] == nil) {
		return body // not get_transfers
	}
	for _, cat := range []string{"in", "pool"} {
		if res[cat] == nil {
			continue
		}
		var entries []json.RawMessage
		if json.Unmarshal(res[cat], &entries) != nil {
			return body
		}
		for i, raw := range entries {
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			var e map[string]any
			if d.Decode(&e) != nil || !txids[e["txid"].(string)] {
				continue
			}
			switch mode {
			case "malformed": // amount of the wrong type: skipped, its txid known
				e["amount"] = "lots"
			case "not_object": // nothing readable, not even the txid
				entries[i] = json.RawMessage(`17`)
				continue
			case "bad_txid":
				e["txid"] = "not-a-txid"
			case "bad_address":
				e["address"] = "4notanaddress"
			case "height":
				if cat == "in" {
					e["height"] = int64(1) << 39
				}
			}
			entries[i], _ = json.Marshal(e)
		}
		res[cat], _ = json.Marshal(entries)
	}
	env["result"], _ = json.Marshal(res)
	out, _ := json.Marshal(env)
	return out
}

// TestSkippedTransfersKeepTheirDeposits: a poll in which wallet-rpc's
// entries for recorded payments (one mined, one in the pool) are odd —
// malformed, unreadable, a bad txid or address, a height above the tip —
// skips them without treating them as gone: the deposits stay as they were
// and no notification (a reversal to the receiver) is made, on SQLite and
// MySQL. A clean poll afterwards changes nothing either.
func TestSkippedTransfersKeepTheirDeposits(t *testing.T) {
	f := need(t)
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			ctx := ctxT(t)
			l := dbtest.Ledger(t, driver, db.Options{Payload: ipn.Payload})
			acct := account()
			a := f.allocator(t, l, acct)
			odd := &oddWallet{}
			wallet, err := monero.NewWalletClient(odd.proxy(t, f.view.URL),
				monero.ClientOptions{User: "ipnd", Password: "digest-Pa55", Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			m := newCountingMetrics()
			w := monero.NewWatcher(wallet, f.daemonClient(t), l, monero.WatcherConfig{Account: acct, ReorgWindow: 10, Metrics: m})
			x, err := a.Allocate(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			sub, _, err := l.Subscribe(ctx, chains.XMR, x.Address, "http://receiver.example/", 1, "json", "k")
			if err != nil {
				t.Fatal(err)
			}
			mined := f.pay(t, monerotest.Destination{Address: x.Address, Amount: 2 * xmr})
			f.confirm(t, mined)
			pooled := f.pay(t, monerotest.Destination{Address: x.Address, Amount: 3 * xmr})
			poll(t, w)
			before := wantTotals(t, l, x.Address, 1, 2*xmr, 3*xmr)
			notes := func() int {
				ns, err := l.Notifications(ctx, sub.ID, 1000)
				if err != nil {
					t.Fatal(err)
				}
				return len(ns)
			}
			n0 := notes()
			if n0 == 0 {
				t.Fatal("the payments made no notification")
			}
			for _, mode := range []string{"malformed", "not_object", "bad_txid", "bad_address", "height", ""} {
				odd.set(mode, mined, pooled)
				poll(t, w)
				after := wantTotals(t, l, x.Address, 1, 2*xmr, 3*xmr)
				if describe(after) != describe(before) {
					t.Fatalf("%q: deposits %s, were %s", mode, describe(after), describe(before))
				}
				for _, d := range after {
					if d.Status == ledger.StatusOrphaned {
						t.Fatalf("%q: orphaned %s", mode, describe(after))
					}
				}
				if n := notes(); n != n0 {
					t.Fatalf("%q: %d notifications, was %d: the receiver would see a change", mode, n, n0)
				}
			}
			skipped, _ := m.snapshot()
			for _, r := range []string{monero.SkipMalformed, monero.SkipTxID, monero.SkipAddress, monero.SkipHeight} {
				if skipped[r] == 0 {
					t.Errorf("no %s skip counted: %v", r, skipped)
				}
			}
		})
	}
}
