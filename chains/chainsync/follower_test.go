package chainsync_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ledger"
)

var ctx = context.Background()

// scripted is a node whose best chain and mempool a test sets: blocks[h]
// is the block at height h (blocks[0] the start), each with its payments.
type scripted struct {
	blocks  []nodeBlock
	mempool map[string][]chains.Payment
}

type nodeBlock struct {
	hash     string
	payments []chains.Payment
}

func (n *scripted) BestHeight(context.Context) (int64, error) { return int64(len(n.blocks) - 1), nil }

func (n *scripted) BestHash(context.Context) (string, error) {
	return n.blocks[len(n.blocks)-1].hash, nil
}

func (n *scripted) BlockHash(_ context.Context, h int64) (string, error) {
	if h < 0 || h >= int64(len(n.blocks)) {
		return "", fmt.Errorf("height %d: %w", h, chainsync.ErrNoBlock)
	}
	return n.blocks[h].hash, nil
}

func (n *scripted) BlockPayments(_ context.Context, h int64, hash, parent string) ([]chains.Payment, error) {
	if h <= 0 || h >= int64(len(n.blocks)) || n.blocks[h].hash != hash {
		return nil, chainsync.ErrNoBlock
	}
	if n.blocks[h-1].hash != parent {
		return nil, chainsync.ErrChainChanged
	}
	return n.blocks[h].payments, nil
}

func (n *scripted) Mempool(context.Context) ([]string, error) {
	var ids []string
	for id := range n.mempool {
		ids = append(ids, id)
	}
	return ids, nil
}

func (n *scripted) MempoolPayments(_ context.Context, ids []string) (ps []chains.Payment, left []string, err error) {
	for _, id := range ids {
		p, ok := n.mempool[id]
		if !ok {
			left = append(left, id)
		}
		ps = append(ps, p...)
	}
	return ps, left, nil
}

// chain makes heights 0..n with hashes named after branch.
func chain(branch string, n int) []nodeBlock {
	bs := make([]nodeBlock, n+1)
	for h := range bs {
		bs[h].hash = fmt.Sprintf("%s-%d", branch, h)
	}
	return bs
}

func pay(txid string, amount uint64) chains.Payment {
	idx := uint32(0)
	return chains.Payment{TxID: txid, Address: "addr0", Amount: amount,
		Watch: &chains.Address{Chain: chains.BTC, DerivationIndex: &idx}}
}

type counted struct{ applied, reorgs, notes int }

func (c *counted) BlocksApplied(_ chains.Chain, n int)     { c.applied += n }
func (c *counted) Reorg(chains.Chain)                      { c.reorgs++ }
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
	x := &fixture{t: t, node: &scripted{blocks: chain("a", 0), mempool: map[string][]chains.Payment{}},
		ledger: dbtest.Ledger(t, "sqlite", db.Options{}), seen: &counted{}}
	x.loop = chainsync.NewLoop(chainsync.LoopConfig{Chain: chains.BTC}, func(context.Context) error { return nil })
	x.f = chainsync.NewBlockFollower(x.node, x.ledger, x.loop, chainsync.FollowerConfig{
		Chain: chains.BTC, Section: "bitcoin", Hooks: chainsync.Hooks{Observer: x.seen, Notify: func() { x.woken++ }},
	})
	if _, err := x.f.Start(ctx, chains.Block{Height: 0, Hash: "a-0"}, 0); err != nil {
		t.Fatal(err)
	}
	return x
}

func (x *fixture) sync() error {
	x.t.Helper()
	h, _ := x.node.BestHeight(ctx)
	return x.f.SyncBlocks(ctx, h)
}

func (x *fixture) deposit(txid string) ledger.Deposit {
	x.t.Helper()
	_, ds, err := x.ledger.Balance(ctx, chains.BTC, "addr0", 1)
	if err != nil {
		x.t.Fatal(err)
	}
	for _, d := range ds {
		if d.TxID == txid {
			return d
		}
	}
	x.t.Fatalf("no deposit %s in %+v", txid, ds)
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

// Blocks connect in order; a reorg disconnects down to the common ancestor
// (a deposit whose transaction is back in the mempool becomes unconfirmed)
// and connects the new branch; a transaction that leaves the mempool
// unmined is orphaned. Every write is counted and wakes the worker when it
// made notifications.
func TestFollowerConnectReorgMempool(t *testing.T) {
	x := newFixture(t)
	x.node.blocks = chain("a", 3)
	x.node.blocks[2].payments = []chains.Payment{pay("tx1", 100)}
	if err := x.sync(); err != nil {
		t.Fatal(err)
	}
	if tip := x.tip(); tip.Height != 3 || tip.Hash != "a-3" {
		t.Fatalf("tip %+v", tip)
	}
	if d := x.deposit("tx1"); d.Status != ledger.StatusConfirmed || d.Height != 2 || d.BlockHash != "a-2" {
		t.Fatalf("deposit %+v", d)
	}
	if _, _, err := x.ledger.Subscribe(ctx, chains.BTC, "addr0", "http://r.example/", 1, "json", "k"); err != nil {
		t.Fatal(err)
	}

	// Branch b forks after height 1 and is longer; tx1 went back to the
	// node's mempool.
	b := chain("b", 4)
	b[0], b[1] = x.node.blocks[0], x.node.blocks[1]
	x.node.blocks = b
	x.node.mempool["tx1"] = []chains.Payment{pay("tx1", 100)}
	if err := x.sync(); err != nil {
		t.Fatal(err)
	}
	if tip := x.tip(); tip.Height != 4 || tip.Hash != "b-4" {
		t.Fatalf("tip after the reorg %+v", tip)
	}
	if d := x.deposit("tx1"); d.Status != ledger.StatusMempool {
		t.Fatalf("deposit after the reorg %+v", d)
	}
	if x.seen.applied != 6 || x.seen.reorgs != 2 {
		t.Fatalf("counted %+v, want 6 blocks applied and 2 reorged", *x.seen)
	}
	if st := x.loop.Status(); st.Height != 4 || st.NodeHeight != 4 || st.Behind != 0 {
		t.Fatalf("status %+v", st)
	}

	// tx1 is known from the last mempool sync; then it leaves unmined.
	if err := x.f.SyncMempool(ctx); err != nil {
		t.Fatal(err)
	}
	delete(x.node.mempool, "tx1")
	if err := x.f.SyncMempool(ctx); err != nil {
		t.Fatal(err)
	}
	if d := x.deposit("tx1"); d.Status != ledger.StatusOrphaned {
		t.Fatalf("deposit after leaving the mempool %+v", d)
	}
	if x.seen.notes == 0 || x.woken == 0 {
		t.Fatalf("notifications counted %d, worker woken %d times", x.seen.notes, x.woken)
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
