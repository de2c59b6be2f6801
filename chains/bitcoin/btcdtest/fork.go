package btcdtest

import (
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/wire"
)

// Fork is two nodes split from each other, for stale-tip tests: the
// customer's transaction is sent to both sides, each side mines a block
// holding it, then B's side grows and A reorganises to it. The watcher
// under test follows A.
//
//	f := btcdtest.Split(a, b)         // a and b connected (Connect) before
//	tx := f.PayBoth(btcdtest.Output{Address: addr, Amount: 10_000})
//	f.MineBoth()                      // A's block and B's block both hold tx
//	// ... wait until the watcher reports tx confirmed on A's block ...
//	f.Join(1)                         // B mines 1 more; A reorganises to B's branch
type Fork struct {
	A, B *Node

	Stale  chainhash.Hash   // A's block that the join leaves stale (after MineBoth)
	Winner []chainhash.Hash // B's blocks A reorganises to (after Join)
}

// Split disconnects a and b (connected by a.Connect(b) or b.Connect(a),
// with no other peer) and waits until neither has a peer.
func Split(a, b *Node) *Fork {
	a.tb.Helper()
	b = b.For(a.tb)
	// addnode remove works only on the side that added the peer.
	if err := a.RPC.AddNode(b.P2P, rpcclient.ANRemove); err != nil {
		if err2 := b.RPC.AddNode(a.P2P, rpcclient.ANRemove); err2 != nil {
			a.tb.Fatalf("fork: split: addnode remove on A: %v; on B: %v", err, err2)
		}
	}
	a.waitPeers(0)
	b.waitPeers(0)
	return &Fork{A: a, B: b}
}

// PayBoth builds one transaction paying outs from A's wallet (which must
// be B's too: Options.Wallet) and sends it to both sides.
func (f *Fork) PayBoth(outs ...Output) *wire.MsgTx {
	f.A.tb.Helper()
	tx := f.A.Build(outs, false, 0)
	for _, n := range []*Node{f.A, f.B} {
		if err := n.Send(tx); err != nil {
			n.tb.Fatalf("sendrawtransaction: %v", err)
		}
	}
	return tx
}

// MineBoth mines one block on each side, each holding what its mempool
// has (PayBoth's transaction). B's block also holds a payment from the
// wallet to itself, so the two blocks differ even when mined in the same
// second from the same template. It returns A's block, also kept in Stale.
func (f *Fork) MineBoth() chainhash.Hash {
	f.A.tb.Helper()
	f.B.Pay(Output{Address: f.B.Wallet.Address.EncodeAddress(), Amount: 10_000})
	a := f.A.Generate(1)[0]
	b := f.B.Generate(1)[0]
	if *a == *b {
		f.A.tb.Fatalf("fork: both sides mined the same block %s", a)
	}
	f.Stale = *a
	f.Winner = []chainhash.Hash{*b}
	return *a
}

// Join mines extra (at least 1) more blocks on B's side, hands B's branch
// to A (submitblock) and waits until A has reorganised to it: A's block
// from MineBoth is disconnected, B's connected. Then A and B are peers
// again (addnode onetry). It returns B's branch (also in Winner).
//
// The branch goes by RPC rather than P2P because btcd, while it catches up
// from a peer, leaves the mempool alone for the blocks it connects but
// still returns the disconnected blocks' transactions to it: after a P2P
// reorg A would list PayBoth's transaction in its mempool although B's
// block holds it (bitcoind removes it). Submitted blocks are connected as
// a node that is current does.
func (f *Fork) Join(extra uint32) []chainhash.Hash {
	a := f.A
	a.tb.Helper()
	if extra == 0 {
		a.tb.Fatal("fork: Join needs at least one more block on B's side for A to reorganise")
	}
	for _, h := range f.B.Generate(extra) {
		f.Winner = append(f.Winner, *h)
	}
	var params [][]any
	for _, h := range f.Winner {
		params = append(params, []any{h.String(), 0})
	}
	a.submitBlocks(f.B.batchStrings("getblock", params))
	if got := a.BestHash(); got != f.Winner[len(f.Winner)-1] {
		a.tb.Fatalf("fork: A's tip %s after B's branch was submitted, want %s", got, f.Winner[len(f.Winner)-1])
	}
	a.Reconnect(f.B)
	return f.Winner
}
