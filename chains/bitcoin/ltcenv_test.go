package bitcoin

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

// ltcOptions start the package's one litecoind as a careful operator runs
// Litecoin Core: cookie auth, -prune=550, no -txindex.
var ltcOptions = coretest.Options{Auth: coretest.AuthCookie, Prune: true}

// sharedLTC is the package's litecoind -regtest.
func sharedLTC(t *testing.T) *coretest.Node { return coretest.Shared(t, ltcOptions) }

// ltcEnv is a Litecoin watcher of a litecoind on a fresh SQLite ledger.
type ltcEnv struct {
	t      *testing.T
	ctx    context.Context
	node   *coretest.Node
	ledger *db.Ledger
	d      *Deriver
	w      *Watcher
	alloc  *Allocator
}

// ltcClient is a client of the node as ipnd configures it: the cookie
// file (re-read when the node writes a new one), or user and password.
func ltcClient(n *coretest.Node) *Client {
	rc := RPCConfig{Host: n.RPCHost, Timeout: 10 * time.Second, Section: "litecoin"}
	if n.Options.Auth == coretest.AuthCookie {
		rc.CookiePath = n.CookiePath
	} else {
		rc.User, rc.Password = n.User, config.Secret(n.Pass)
	}
	return NewClient(rc)
}

// newLTCEnv watches node with d's key, polling every 20 ms and looking at
// the whole mempool every round.
func newLTCEnv(t *testing.T, node *coretest.Node, d *Deriver, gap int) *ltcEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &ltcEnv{t: t, ctx: ctx, node: node, d: d}
	e.ledger = openLedger(t, ctx, filepath.Join(t.TempDir(), "ledger.db"))
	e.w = NewWatcher(ltcClient(node), e.ledger, d, WatcherConfig{GapLimit: gap, PollInterval: 20 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, ProgressInterval: time.Hour, Push: PushConfig{Mode: PushOff}})
	e.w.pool.cfg.FullEvery = 0
	e.alloc = NewAllocator(d, e.ledger, e.w)
	return e
}

func (e *ltcEnv) poll() {
	e.t.Helper()
	if err := e.w.Poll(e.ctx); err != nil {
		e.t.Fatalf("poll: %v", err)
	}
}

func (e *ltcEnv) allocate() string {
	e.t.Helper()
	a, err := e.alloc.Allocate(e.ctx, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Address
}

func (e *ltcEnv) totals(addr string) ledger.Totals {
	e.t.Helper()
	tot, _, err := e.ledger.Balance(e.ctx, e.d.Family().Chain, addr, 1)
	if err != nil {
		e.t.Fatalf("balance %s: %v", addr, err)
	}
	return tot
}

// wantDeposit asserts the one deposit of txid to addr and returns it.
func (e *ltcEnv) wantDeposit(addr, txid, status string, amount uint64, confs int64) ledger.Deposit {
	e.t.Helper()
	c := e.d.Family().Chain
	_, ds, err := e.ledger.Balance(e.ctx, c, addr, 1)
	if err != nil {
		e.t.Fatalf("balance %s: %v", addr, err)
	}
	tip, _, _ := e.ledger.Tip(e.ctx, c)
	var found []ledger.Deposit
	for _, d := range ds {
		if d.TxID == txid {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("%d deposits of %s to %s (all: %+v)", len(found), txid, addr, ds)
	}
	d := found[0]
	if d.Status != status || d.Amount != amount || d.Confirmations(tip.Height) != confs {
		e.t.Fatalf("deposit %s to %s: status %s amount %d confirmations %d; want %s %d %d",
			txid, addr, d.Status, d.Amount, d.Confirmations(tip.Height), status, amount, confs)
	}
	return d
}

// wantTip asserts that the ledger follows the node to its tip.
func (e *ltcEnv) wantTip() {
	e.t.Helper()
	tip, _, err := e.ledger.Tip(e.ctx, e.d.Family().Chain)
	if err != nil || tip.Height != e.node.Height() || tip.Hash != e.node.BestHash() {
		e.t.Fatalf("ledger tip %+v (%v), node %d %s", tip, err, e.node.Height(), e.node.BestHash())
	}
	if st := e.w.Status(); st.State != chains.Synced || st.Height != e.node.Height() {
		e.t.Fatalf("status %+v", st)
	}
}
