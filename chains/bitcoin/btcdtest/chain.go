package btcdtest

import (
	"os"
	"path/filepath"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/rpcclient"
)

// Generate mines count blocks and returns their hashes.
func (n *Node) Generate(count uint32) []*chainhash.Hash {
	n.tb.Helper()
	hs, err := n.RPC.Generate(count)
	if err != nil {
		n.tb.Fatalf("generate %d: %v", count, err)
	}
	return hs
}

// Height is the node's best height.
func (n *Node) Height() int64 {
	n.tb.Helper()
	h, err := n.RPC.GetBlockCount()
	if err != nil {
		n.tb.Fatalf("getblockcount: %v", err)
	}
	return h
}

// BestHash is the node's best block hash.
func (n *Node) BestHash() chainhash.Hash {
	n.tb.Helper()
	h, _, err := n.RPC.GetBestBlock()
	if err != nil {
		n.tb.Fatalf("getbestblock: %v", err)
	}
	return *h
}

// Fund mines 101 blocks so that the first coinbase is spendable.
func (n *Node) Fund() { n.tb.Helper(); n.Generate(101) }

// InvalidateBlock marks hash invalid: the node's best chain falls back to
// its parent, its transactions return to the mempool.
func (n *Node) InvalidateBlock(hash chainhash.Hash) {
	n.tb.Helper()
	if err := n.RPC.InvalidateBlock(&hash); err != nil {
		n.tb.Fatalf("invalidateblock %s: %v", hash, err)
	}
}

// Mempool lists the node's mempool txids.
func (n *Node) Mempool() []string {
	n.tb.Helper()
	hs, err := n.RPC.GetRawMempool()
	if err != nil {
		n.tb.Fatalf("getrawmempool: %v", err)
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}

// InMempool reports whether txid is in n's mempool, at a cost independent
// of the mempool's size (btcd has no getmempoolentry: getrawtransaction
// verbose finds mempool transactions first, and they have no block hash).
func (n *Node) InMempool(txid string) bool {
	n.tb.Helper()
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil {
		n.tb.Fatalf("txid %q: %v", txid, err)
	}
	res, err := n.RPC.GetRawTransactionVerbose(h)
	return err == nil && res.BlockHash == ""
}

// WaitMempool waits until txid is (want=true) or is not in n's mempool.
func (n *Node) WaitMempool(txid string, want bool) {
	n.tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		in := n.InMempool(txid)
		if in == want {
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("tx %s in mempool = %v, want %v", txid, in, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Connect makes other a persistent peer of n (addnode add) and waits until
// both have the same best block.
func (n *Node) Connect(other *Node) {
	n.tb.Helper()
	if err := n.RPC.AddNode(other.P2P, rpcclient.ANAdd); err != nil {
		n.tb.Fatalf("addnode add: %v", err)
	}
	n.WaitSynced(other)
}

// Disconnect removes the persistent peer other (addnode remove) and waits
// until n has no peers left.
func (n *Node) Disconnect(other *Node) {
	n.tb.Helper()
	if err := n.RPC.AddNode(other.P2P, rpcclient.ANRemove); err != nil {
		n.tb.Fatalf("addnode remove: %v", err)
	}
	n.waitPeers(0)
	other.For(n.tb).waitPeers(0)
}

// Reconnect connects n to other once (addnode onetry) and waits until both
// agree on the best block.
func (n *Node) Reconnect(other *Node) {
	n.tb.Helper()
	if err := n.RPC.AddNode(other.P2P, rpcclient.ANOneTry); err != nil {
		n.tb.Fatalf("addnode onetry: %v", err)
	}
	n.WaitSynced(other)
}

func (n *Node) waitPeers(want int) {
	n.tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ps, err := n.RPC.GetPeerInfo()
		if err == nil && len(ps) == want {
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("peers: %d, want %d (%v)", len(ps), want, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitSynced waits until n and other have the same best block.
func (n *Node) WaitSynced(other *Node) {
	n.tb.Helper()
	other = other.For(n.tb)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n.BestHash() == other.BestHash() {
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("nodes did not sync: %d %s vs %d %s", n.Height(), n.BestHash(), other.Height(), other.BestHash())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CookieFile writes a bitcoind-style .cookie ("user:password") for n and
// returns its path.
func (n *Node) CookieFile() string {
	n.tb.Helper()
	p := filepath.Join(n.Dir, ".cookie")
	if err := os.WriteFile(p, []byte(n.User+":"+n.Pass), 0o600); err != nil {
		n.tb.Fatal(err)
	}
	return p
}
