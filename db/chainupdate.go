package db

import (
	"context"
	"fmt"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// ApplyChainUpdate applies u (see chains.ChainUpdate) in one transaction:
// the disconnects, the connects, the dropped transactions and the new
// mempool payments, then one notification per subscription whose totals
// differ from the last one it was sent. A reorganisation written this way
// never shows a payment that is in both branches as unconfirmed or gone.
func (l *Ledger) ApplyChainUpdate(ctx context.Context, c chains.Chain, u chains.ChainUpdate) (chains.Change, error) {
	reasons := make(map[string]chains.Reason, len(u.Gone))
	for _, g := range u.Gone {
		reasons[g.TxID] = g.Reason
	}
	return l.chainTx(ctx, c, func(w *chainWrite, tip chains.Block, hadTip bool) (chains.Block, error) {
		cur := tip
		if len(u.Disconnect) > 0 {
			if err := w.disconnect(tip, u, reasons); err != nil {
				return chains.Block{}, err
			}
			cur, hadTip = u.Ancestor, true
		}
		for _, bp := range u.Connect {
			b := bp.Block
			if hadTip && b.Height != cur.Height+1 {
				return chains.Block{}, fmt.Errorf("%s block %d after tip %d: %w", c, b.Height, cur.Height, ledger.ErrNotContiguous)
			}
			for _, p := range bp.Payments {
				p.Height, p.BlockHash = b.Height, b.Hash
				if _, err := w.upsert(p, ledger.StatusConfirmed, true); err != nil {
					return chains.Block{}, err
				}
			}
			if err := l.setTip(w.ctx, w.tx, c, b); err != nil {
				return chains.Block{}, err
			}
			cur, hadTip = b, true
		}
		if err := w.dropUnconfirmed(u.Gone); err != nil {
			return chains.Block{}, err
		}
		for _, p := range u.Mempool {
			p.Height, p.BlockHash = 0, ""
			if _, err := w.upsert(p, ledger.StatusMempool, false); err != nil {
				return chains.Block{}, err
			}
		}
		return cur, nil
	})
}

// disconnect takes the blocks of u.Disconnect off the tip: their deposits
// go back to the mempool or are orphaned, and u.Ancestor becomes the tip.
func (w *chainWrite) disconnect(tip chains.Block, u chains.ChainUpdate, reasons map[string]chains.Reason) error {
	c := w.chain
	if u.Disconnect[0] != tip {
		return fmt.Errorf("disconnect %s block %d %s: it is not the tip (%d %s)", c, u.Disconnect[0].Height, u.Disconnect[0].Hash, tip.Height, tip.Hash)
	}
	for i, b := range u.Disconnect {
		parent := u.Ancestor
		if i+1 < len(u.Disconnect) {
			parent = u.Disconnect[i+1]
		}
		if parent.Height != b.Height-1 {
			return fmt.Errorf("disconnect %s block %d: parent height %d", c, b.Height, parent.Height)
		}
	}
	// Every live confirmed deposit above the ancestor is in a block of the
	// ledger's best chain above it: the blocks being disconnected.
	ds, err := w.deposits(`d.chain = ? AND d.height > ? AND d.status IN (?, ?)`,
		string(c), u.Ancestor.Height, ledger.StatusConfirmed, ledger.StatusDoubleSpend)
	if err != nil {
		return err
	}
	type output struct {
		txid, address string
		vout          uint32
	}
	reconnected := map[output]bool{}
	for _, bp := range u.Connect {
		for _, p := range bp.Payments {
			reconnected[output{p.TxID, p.Address, p.OutIndex}] = true
		}
	}
	for _, d := range ds {
		if reconnected[output{d.TxID, d.Address, d.OutIndex}] {
			continue // in the new branch too: its connect moves it
		}
		status, reason := ledger.StatusOrphaned, chains.ReasonReorg
		if r, ok := reasons[d.TxID]; ok {
			reason = r
		}
		if u.InMempool != nil && u.InMempool(d.TxID) {
			status, reason = ledger.StatusMempool, chains.ReasonReorg
		}
		if err := w.moveDeposit(d, status, ledger.GoneReason(reason, ledger.ReasonReorg)); err != nil {
			return err
		}
	}
	return w.l.setTip(w.ctx, w.tx, c, u.Ancestor)
}

// dropUnconfirmed orphans the unconfirmed deposits of the gone
// transactions.
func (w *chainWrite) dropUnconfirmed(gone []chains.Gone) error {
	for start := 0; start < len(gone); start += 500 {
		chunk := gone[start:min(start+500, len(gone))]
		args := []any{string(w.chain), ledger.StatusMempool}
		reasons := goneReasons(chunk)
		for _, g := range chunk {
			args = append(args, g.TxID)
		}
		ds, err := w.deposits(`d.chain = ? AND d.status = ? AND d.txid IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := w.moveDeposit(d, ledger.StatusOrphaned, reasons[d.TxID]); err != nil {
				return err
			}
		}
	}
	return nil
}

// moveDeposit sets a deposit's status (mempool or orphaned: height and
// block hash cleared) for reason (a ledger.Reason constant): the deposit
// keeps it and the notifications the write makes list it in changes.
func (w *chainWrite) moveDeposit(d ledger.Deposit, status, reason string) error {
	return w.setStatus(d, status, 0, "", reason)
}

// SkipTo moves chain c's tip forward to b without recording the blocks in
// between (a node that pruned them: the operator chose to resume past
// them). It does nothing when the tip is at or above b's height.
func (l *Ledger) SkipTo(ctx context.Context, c chains.Chain, b chains.Block) (chains.Change, error) {
	return l.chainTx(ctx, c, func(w *chainWrite, tip chains.Block, hadTip bool) (chains.Block, error) {
		if hadTip && tip.Height >= b.Height {
			return tip, nil
		}
		return b, l.setTip(w.ctx, w.tx, c, b)
	})
}
