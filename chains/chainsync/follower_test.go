package chainsync_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ledger"
)

var ctx = context.Background()

// scripted is a node whose best chain and mempool a test sets: blocks[h]
// is the block at height h (blocks[0] the start), each with its payments
// and the unconfirmed transactions it double spends.
type scripted struct {
	blocks  []nodeBlock
	mempool map[string]bool
	calls   int
}

type nodeBlock struct {
	hash      string
	payments  []chains.Payment
	conflicts []string
}

func (n *scripted) BestHeight(context.Context) (int64, error) {
	n.calls++
	return int64(len(n.blocks) - 1), nil
}

func (n *scripted) best() chains.Block {
	return chains.Block{Height: int64(len(n.blocks) - 1), Hash: n.blocks[len(n.blocks)-1].hash}
}

func (n *scripted) BlockHash(_ context.Context, h int64) (string, error) {
	n.calls++
	if h < 0 || h >= int64(len(n.blocks)) {
		return "", fmt.Errorf("height %d: %w", h, chainsync.ErrNoBlock)
	}
	return n.blocks[h].hash, nil
}

func (n *scripted) ScanBlock(_ context.Context, h int64, hash, parent string) (chainsync.BlockScan, error) {
	n.calls++
	if h <= 0 || h >= int64(len(n.blocks)) || n.blocks[h].hash != hash {
		return chainsync.BlockScan{}, chainsync.ErrNoBlock
	}
	if n.blocks[h-1].hash != parent {
		return chainsync.BlockScan{}, chainsync.ErrChainChanged
	}
	return chainsync.BlockScan{Payments: n.blocks[h].payments, Conflicts: n.blocks[h].conflicts}, nil
}

func (n *scripted) InMempool(context.Context) (func(string) bool, error) {
	n.calls++
	pool := maps.Clone(n.mempool)
	return func(txid string) bool { return pool[txid] }, nil
}

// chain makes heights 0..n with hashes named after branch.
func chain(branch string, n int) []nodeBlock {
	bs := make([]nodeBlock, n+1)
	for h := range bs {
		bs[h].hash = fmt.Sprintf("%s-%d", branch, h)
	}
	return bs
}

// pay is a payment to the derived address addr<idx>.
func pay(txid string, amount uint64, idx uint32) chains.Payment {
	return chains.Payment{TxID: txid, Address: fmt.Sprintf("addr%d", idx), Amount: amount,
		Watch: &chains.Address{Chain: chains.BTC, DerivationIndex: &idx}}
}

type counted struct{ applied, reorgs, depth, notes int }

func (c *counted) BlocksApplied(_ chains.Chain, n int)     { c.applied += n }
func (c *counted) Reorg(_ chains.Chain, depth int)         { c.reorgs++; c.depth += depth }
func (c *counted) Change(_ chains.Chain, ch chains.Change) { c.notes += ch.Notifications }

type fixture struct {
	t      *testing.T
	node   *scripted
	ledger *db.Ledger
	f      *chainsync.BlockFollower
	loop   *chainsync.Loop
	seen   *counted
	woken  int
}

func newFixture(t *testing.T) *fixture {
	x := &fixture{t: t, node: &scripted{blocks: chain("a", 0), mempool: map[string]bool{}},
		ledger: dbtest.Ledger(t, "sqlite", db.Options{}), seen: &counted{}}
	x.loop = chainsync.NewLoop(chainsync.LoopConfig{Chain: chains.BTC}, func(context.Context) error { return nil })
	x.f = x.follower()
	if _, err := x.f.Start(ctx, chains.Block{Height: 0, Hash: "a-0"}, 0); err != nil {
		t.Fatal(err)
	}
	return x
}

func (x *fixture) follower() *chainsync.BlockFollower {
	return chainsync.NewBlockFollower(x.node, x.ledger, x.loop, chainsync.FollowerConfig{
		Chain: chains.BTC, Section: "bitcoin", Hooks: chainsync.Hooks{Observer: x.seen, Notify: func() { x.woken++ }},
	})
}

func (x *fixture) sync() error {
	x.t.Helper()
	return x.f.SyncBlocks(ctx, x.node.best())
}

func (x *fixture) mustSync() {
	x.t.Helper()
	if err := x.sync(); err != nil {
		x.t.Fatal(err)
	}
}

func (x *fixture) deposit(txid string, idx uint32) ledger.Deposit {
	x.t.Helper()
	addr := fmt.Sprintf("addr%d", idx)
	_, ds, err := x.ledger.Balance(ctx, chains.BTC, addr, 1)
	if err != nil {
		x.t.Fatal(err)
	}
	for _, d := range ds {
		if d.TxID == txid {
			return d
		}
	}
	x.t.Fatalf("no deposit %s to %s in %+v", txid, addr, ds)
	return ledger.Deposit{}
}

func (x *fixture) tip() chains.Block {
	x.t.Helper()
	tip, _, err := x.ledger.Tip(ctx, chains.BTC)
	if err != nil {
		x.t.Fatal(err)
	}
	return tip
}

func (x *fixture) subscribe(idx uint32) int64 {
	x.t.Helper()
	sub, _, err := x.ledger.Subscribe(ctx, chains.BTC, fmt.Sprintf("addr%d", idx), "http://r.example/", 1, "json", "k")
	if err != nil {
		x.t.Fatal(err)
	}
	return sub.ID
}

func (x *fixture) notified(sub int64) []string {
	x.t.Helper()
	ns, err := x.ledger.Notifications(ctx, sub, 100)
	if err != nil {
		x.t.Fatal(err)
	}
	var out []string
	for i := len(ns) - 1; i >= 0; i-- {
		out = append(out, fmt.Sprintf("%d/%d", ns[i].Confirmed, ns[i].Unconfirmed))
	}
	return out
}

// Blocks connect in order. A reorg is one ledger write: the payment in
// both branches stays confirmed without a notification, one back in the
// node's mempool is unconfirmed, one double spent by the new branch and
// one that vanished are orphaned. With nothing new on the node a sync asks
// it nothing. Every write is counted and wakes the worker when it made
// notifications.
func TestFollowerConnectAndAtomicReorg(t *testing.T) {
	x := newFixture(t)
	x.node.blocks = chain("a", 3)
	x.node.blocks[2].payments = []chains.Payment{pay("both", 100, 1), pay("spent", 4, 2)}
	x.node.blocks[3].payments = []chains.Payment{pay("back", 5, 2), pay("gone", 6, 2)}
	x.mustSync()
	if tip := x.tip(); tip.Height != 3 || tip.Hash != "a-3" {
		t.Fatalf("tip %+v", tip)
	}
	if d := x.deposit("both", 1); d.Status != ledger.StatusConfirmed || d.Height != 2 || d.BlockHash != "a-2" {
		t.Fatalf("deposit %+v", d)
	}
	sub1, sub2 := x.subscribe(1), x.subscribe(2)
	calls := x.node.calls
	x.mustSync()
	if x.node.calls != calls {
		t.Fatalf("a sync with nothing new made %d calls to the node", x.node.calls-calls)
	}

	// Branch b forks after height 1 and is longer; "both" is in its block
	// 3, "spent" is double spent in its block 2, "back" is in the node's
	// mempool again.
	b := chain("b", 4)
	b[0], b[1] = x.node.blocks[0], x.node.blocks[1]
	b[2].conflicts = []string{"spent"}
	b[3].payments = []chains.Payment{pay("both", 100, 1)}
	x.node.blocks = b
	x.node.mempool["back"] = true
	x.mustSync()
	if tip := x.tip(); tip.Height != 4 || tip.Hash != "b-4" {
		t.Fatalf("tip after the reorg %+v", tip)
	}
	if d := x.deposit("both", 1); d.Status != ledger.StatusConfirmed || d.BlockHash != "b-3" {
		t.Fatalf("deposit in both branches after the reorg %+v", d)
	}
	for txid, want := range map[string]string{"back": ledger.StatusMempool, "spent": ledger.StatusOrphaned, "gone": ledger.StatusOrphaned} {
		if d := x.deposit(txid, 2); d.Status != want {
			t.Fatalf("deposit %s after the reorg %+v, want %s", txid, d, want)
		}
	}
	if got := x.notified(sub1); fmt.Sprint(got) != "[100/0]" {
		t.Fatalf("the payment in both branches was notified %v, want only the first (100/0)", got)
	}
	if got := x.notified(sub2); fmt.Sprint(got) != "[15/0 0/5]" {
		t.Fatalf("notified %v, want [15/0 0/5]", got)
	}
	if x.seen.applied != 6 || x.seen.reorgs != 1 || x.seen.depth != 2 {
		t.Fatalf("counted %+v, want 6 blocks applied and one reorganisation 2 blocks deep", *x.seen)
	}
	if st := x.loop.Status(); st.Height != 4 || st.NodeHeight != 4 || st.Behind != 0 {
		t.Fatalf("status %+v", st)
	}
	if x.seen.notes == 0 || x.woken == 0 {
		t.Fatalf("notifications counted %d, worker woken %d times", x.seen.notes, x.woken)
	}

	// invalidateblock: the node's chain is shorter and ends in a block the
	// ledger has; "both" goes back to the mempool.
	x.node.blocks = x.node.blocks[:3]
	x.node.mempool["both"] = true
	x.mustSync()
	if d := x.deposit("both", 1); d.Status != ledger.StatusMempool || x.tip().Hash != "b-2" {
		t.Fatalf("after the node's chain got shorter: deposit %+v, tip %+v", d, x.tip())
	}
}

// The adapter's mempool findings are recorded through the follower; a
// block that double spends an unconfirmed payment drops it in the block's
// own write; a fresh follower reads the tip again; start_height above the
// tip skips forward.
func TestFollowerRecordConflictsAndSkip(t *testing.T) {
	x := newFixture(t)
	if _, err := x.f.Record(ctx, chains.ChainUpdate{Mempool: []chains.Payment{pay("t1", 7, 0), pay("t2", 8, 0)}}); err != nil {
		t.Fatal(err)
	}
	if d := x.deposit("t1", 0); d.Status != ledger.StatusMempool {
		t.Fatalf("mempool deposit %+v", d)
	}
	x.node.blocks = chain("a", 2)
	x.node.blocks[1].conflicts = []string{"t1"}
	x.mustSync()
	if d := x.deposit("t1", 0); d.Status != ledger.StatusOrphaned {
		t.Fatalf("double spent by block 1: %+v", d)
	}
	if _, err := x.f.Record(ctx, chains.ChainUpdate{Gone: []chains.Gone{{TxID: "t2", Reason: chains.ReasonDropped}}}); err != nil {
		t.Fatal(err)
	}
	if d := x.deposit("t2", 0); d.Status != ledger.StatusOrphaned {
		t.Fatalf("dropped: %+v", d)
	}
	x.node.blocks = chain("a", 9)
	f := x.follower()
	tip, err := f.Start(ctx, x.node.best(), 2)
	if err != nil || tip.Hash != "a-2" {
		t.Fatalf("restart with start_height below the tip: %+v, %v", tip, err)
	}
	tip, err = f.Start(ctx, x.node.best(), 7)
	if err != nil || tip.Hash != "a-6" || x.tip().Hash != "a-6" {
		t.Fatalf("start_height above the tip: %+v, %v; ledger %+v", tip, err, x.tip())
	}
}

// A node whose chain is shorter and does not end in a block the ledger
// processed is behind (wait); one whose chain shares no remembered block
// is a reorg deeper than the ledger remembers.
func TestFollowerBehindAndDeepReorg(t *testing.T) {
	x := newFixture(t)
	x.node.blocks = chain("a", 5)
	if err := x.sync(); err != nil {
		t.Fatal(err)
	}
	x.node.blocks = chain("c", 3)
	if err := x.sync(); !errors.Is(err, chainsync.ErrNodeBehind) {
		t.Fatalf("shorter unknown chain: %v, want ErrNodeBehind", err)
	}
	x.node.blocks = chain("c", 7)
	if err := x.sync(); !errors.Is(err, chainsync.ErrDeepReorg) {
		t.Fatalf("chain sharing no block: %v, want ErrDeepReorg", err)
	}
	if tip := x.tip(); tip.Hash != "a-5" {
		t.Fatalf("tip moved: %+v", tip)
	}
}

func TestCommonAncestor(t *testing.T) {
	recent := []chains.Block{{Height: 5, Hash: "a5"}, {Height: 4, Hash: "a4"}, {Height: 3, Hash: "a3"}, {Height: 2, Hash: "a2"}}
	node := map[int64]string{2: "a2", 3: "a3", 4: "b4"}
	var asked []int64
	hashAt := func(_ context.Context, h int64) (string, error) {
		asked = append(asked, h)
		if h == 1 {
			return "", errors.New("node down")
		}
		return node[h], nil
	}
	i, err := chainsync.CommonAncestor(ctx, recent, 4, hashAt)
	if err != nil || i != 2 || fmt.Sprint(asked) != "[4 3]" {
		t.Fatalf("ancestor %d, %v, asked %v; want index 2 after asking heights 4 and 3", i, err, asked)
	}
	node = map[int64]string{}
	if i, err := chainsync.CommonAncestor(ctx, recent, 9, hashAt); err != nil || i != -1 {
		t.Fatalf("no common block: %d, %v", i, err)
	}
	if _, err := chainsync.CommonAncestor(ctx, []chains.Block{{Height: 1, Hash: "a1"}}, 9, hashAt); err == nil {
		t.Fatal("node error not returned")
	}
}
