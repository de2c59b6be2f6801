package coretest

import "time"

// Connect connects n to other once (addnode onetry: no reconnection later)
// and waits until both have the same best block.
func (n *Node) Connect(other *Node) {
	n.tb.Helper()
	n.Call("addnode", nil, other.P2P, "onetry")
	n.WaitSynced(other)
}

// Disconnect drops n's connection to other (disconnectnode) and waits
// until neither has a peer left.
func (n *Node) Disconnect(other *Node) {
	n.tb.Helper()
	n.Call("disconnectnode", nil, other.P2P)
	n.waitPeers(0)
	other.With(n.tb).waitPeers(0)
}

// PeerCount is the number of connected peers (getconnectioncount).
func (n *Node) PeerCount() int {
	n.tb.Helper()
	var c int
	n.Call("getconnectioncount", &c)
	return c
}

func (n *Node) waitPeers(want int) {
	n.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := n.PeerCount()
		if c == want {
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("peers: %d, want %d", c, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitSynced waits until n and other have the same best block.
func (n *Node) WaitSynced(other *Node) {
	n.tb.Helper()
	o := other.With(n.tb)
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, b := n.BestHash(), o.BestHash()
		if a == b {
			return
		}
		if time.Now().After(deadline) {
			n.tb.Fatalf("nodes did not sync: %d %s vs %d %s", n.Height(), a, o.Height(), b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
