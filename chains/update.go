package chains

// Reason says why a deposit went back (confirmed to unconfirmed) or left
// the chain's view. The ledger records it with the status change; IPN
// bodies may carry it to the receiver.
type Reason string

const (
	// ReasonReorg: the deposit's block left the best chain (a
	// reorganisation) and its transaction is not in the new branch.
	ReasonReorg Reason = "reorg"
	// ReasonDoubleSpend: a transaction spending the same coins was mined.
	ReasonDoubleSpend Reason = "double_spend"
	// ReasonDropped: the transaction left the node's mempool without being
	// mined and no conflicting transaction was seen (expiry, eviction).
	ReasonDropped Reason = "dropped_from_mempool"
	// ReasonReplaced: a conflicting transaction replaced it in the mempool
	// (BIP125 replace-by-fee or a full-RBF node).
	ReasonReplaced Reason = "replaced"
)

// Gone is a transaction whose unconfirmed deposits leave the chain's view,
// and why.
type Gone struct {
	TxID   string
	Reason Reason
}

// BlockPayments is a block of the best chain and the payments found in it.
type BlockPayments struct {
	Block    Block
	Payments []Payment
}

// ChainUpdate is one atomic change of a block chain's view (Bitcoin-family
// chains): the ledger applies it in one transaction and notifies each
// subscription once, with the totals after the whole change. A
// reorganisation is one ChainUpdate holding its disconnects and the new
// branch's connects, so a payment present in both branches never shows as
// unconfirmed or gone.
//
// The parts apply in this order: Disconnect, Connect, Gone, Mempool.
type ChainUpdate struct {
	// Disconnect lists the blocks leaving the best chain, the current tip
	// first, each the parent of the one before. Their deposits go back to
	// the mempool when InMempool reports their transaction there, else they
	// are orphaned (reason: the Gone entry of their transaction, or reorg).
	Disconnect []Block
	// Ancestor is the block the disconnects stop at (required with
	// Disconnect): the parent of Disconnect's last block.
	Ancestor Block
	// InMempool reports whether a disconnected deposit's transaction is in
	// the node's mempool; nil means none is.
	InMempool func(txid string) bool
	// Connect lists blocks joining the best chain, oldest first, extending
	// Ancestor (or the current tip when Disconnect is empty), with their
	// payments: these become confirmed at their block.
	Connect []BlockPayments
	// Gone drops the unconfirmed deposits of these transactions (those
	// still unconfirmed after Connect) with the given reasons.
	Gone []Gone
	// Mempool records new unconfirmed payments.
	Mempool []Payment
}

// Empty reports whether u changes nothing.
func (u ChainUpdate) Empty() bool {
	return len(u.Disconnect) == 0 && len(u.Connect) == 0 && len(u.Gone) == 0 && len(u.Mempool) == 0
}

// Tip is the chain's tip after u, given the tip before it.
func (u ChainUpdate) Tip(before Block) Block {
	switch {
	case len(u.Connect) > 0:
		return u.Connect[len(u.Connect)-1].Block
	case len(u.Disconnect) > 0:
		return u.Ancestor
	}
	return before
}
