package bitcoin

import (
	"encoding/binary"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// spendWatch remembers the coins spent by the transactions that pay
// watched addresses, to notice another transaction spending one of them:
//
//   - while ours is unconfirmed, a replacement in the mempool or a double
//     spend in a block: either means ours can never be mined;
//   - once ours is confirmed, for the blocks a reorganisation can reach: a
//     block of a new branch spending its coins is the double spend that
//     took the payment away (not a mere reorganisation).
//
// What a spend means is judgeSpend's (a pure function); spendWatch keeps
// the state and applies the findings. It is used from the watcher's rounds
// only.
type spendWatch struct {
	owner map[wire.OutPoint]chainhash.Hash // coin -> our transaction spending it
	txs   map[chainhash.Hash]*watchedTx
	// filter has a bit per watched coin (a few false positives): a block's
	// inputs are probed there first, not in the map.
	filter [1 << 10]uint64
}

// watchedTx is one transaction paying us: the coins it spends and, once
// mined, the height of its block.
type watchedTx struct {
	coins  []wire.OutPoint
	height int64 // 0: unconfirmed
}

func filterBit(op wire.OutPoint) (word int, bit uint64) {
	v := binary.LittleEndian.Uint64(op.Hash[:8]) ^ uint64(op.Index)*0x9e3779b97f4a7c15
	v >>= 64 - 16
	return int(v / 64), 1 << (v % 64)
}

func newSpendWatch() *spendWatch {
	return &spendWatch{owner: map[wire.OutPoint]chainhash.Hash{}, txs: map[chainhash.Hash]*watchedTx{}}
}

// add records the coins tx (id) spends; height is its block's, 0 while it
// is unconfirmed. A transaction already watched only gets its height. A
// coinbase's null input is no coin (every coinbase has it): a coinbase
// paying us is watched with no coins, so no later coinbase conflicts
// with it.
func (s *spendWatch) add(id chainhash.Hash, tx *wire.MsgTx, height int64) {
	if w, ok := s.txs[id]; ok {
		w.height = height
		return
	}
	ops := make([]wire.OutPoint, 0, len(tx.TxIn))
	for _, in := range tx.TxIn {
		if in.PreviousOutPoint.Index == wire.MaxPrevOutIndex && in.PreviousOutPoint.Hash == (chainhash.Hash{}) {
			continue
		}
		ops = append(ops, in.PreviousOutPoint)
		s.owner[in.PreviousOutPoint] = id
		w, b := filterBit(in.PreviousOutPoint)
		s.filter[w] |= b
	}
	s.txs[id] = &watchedTx{coins: ops, height: height}
}

// remove forgets id's coins.
func (s *spendWatch) remove(id chainhash.Hash) {
	w, ok := s.txs[id]
	if !ok {
		return
	}
	for _, op := range w.coins {
		if s.owner[op] == id {
			delete(s.owner, op)
		}
	}
	delete(s.txs, id)
	if len(s.owner) == 0 {
		clear(s.filter[:]) // bits of removed coins are left otherwise
	}
}

// empty reports whether nothing is watched (a block scan then skips every
// input).
func (s *spendWatch) empty() bool { return len(s.owner) == 0 }

// has reports whether id's coins are watched.
func (s *spendWatch) has(id chainhash.Hash) bool { _, ok := s.txs[id]; return ok }

// verdict is what a transaction spending a watched coin means for the
// watched transaction.
type verdict int

const (
	verdictNone        verdict = iota // nothing changes
	verdictMined                      // ours, in a block: it is confirmed there
	verdictReplaced                   // another transaction took its coin in the mempool: ours can never be mined
	verdictDoubleSpent                // another transaction spending its coin was mined
)

// judgeSpend says what spender, seen spending a coin of ours, means for
// ours: confirmed tells whether ours is in a block of the ledger's chain,
// inBlock whether spender was seen in a block (else in the mempool).
//
// A block's transaction spending the coin of a confirmed transaction of
// ours can only be in a new branch that a reorganisation brings: the
// payment goes because it was double spent, not merely reorganised away.
// A mempool transaction spending a confirmed coin is one the node should
// not have accepted: nothing changes.
func judgeSpend(ours, spender chainhash.Hash, confirmed, inBlock bool) verdict {
	switch {
	case spender == ours && inBlock:
		return verdictMined
	case spender == ours:
		return verdictNone
	case inBlock:
		return verdictDoubleSpent
	case confirmed:
		return verdictNone
	}
	return verdictReplaced
}

// finding is one watched transaction a spend concerns.
type finding struct {
	Ours    chainhash.Hash
	Verdict verdict
}

// check looks at transaction tx, whose id is asked only when it spends a
// watched coin, seen in a block (inBlock) or in the mempool: it appends to
// dst what it means for each watched transaction it concerns (each once).
// It changes nothing: apply does.
func (s *spendWatch) check(tx *wire.MsgTx, id func() chainhash.Hash, inBlock bool, dst []finding) []finding {
	if len(s.owner) == 0 {
		return dst
	}
	var txid chainhash.Hash
	asked := false
	for _, in := range tx.TxIn {
		if w, b := filterBit(in.PreviousOutPoint); s.filter[w]&b == 0 {
			continue
		}
		ours, ok := s.owner[in.PreviousOutPoint]
		if !ok {
			continue
		}
		if !asked {
			txid, asked = id(), true
		}
		v := judgeSpend(ours, txid, s.txs[ours].height > 0, inBlock)
		if v == verdictNone {
			continue
		}
		dup := false
		for _, d := range dst {
			dup = dup || d.Ours == ours
		}
		if !dup {
			dst = append(dst, finding{Ours: ours, Verdict: v})
		}
	}
	return dst
}

// apply records findings of a block at height (0: the mempool): a mined
// transaction of ours is confirmed there. It returns the transactions that
// can never be mined, and why. They stay watched until the ledger no
// longer lists them as unconfirmed (keep) or their height expires: should
// the write of the finding fail, the same spend seen again is reported
// again.
func (s *spendWatch) apply(fs []finding, height int64) (replaced, doubleSpent []chainhash.Hash) {
	for _, f := range fs {
		switch f.Verdict {
		case verdictMined:
			if w, ok := s.txs[f.Ours]; ok {
				w.height = height
			}
		case verdictReplaced:
			replaced = append(replaced, f.Ours)
		case verdictDoubleSpent:
			doubleSpent = append(doubleSpent, f.Ours)
		}
	}
	return replaced, doubleSpent
}

// unconfirmFrom makes the transactions mined at height or above
// unconfirmed again: a block at height is being connected, so theirs left
// the chain (a reorganisation). A block that holds one again confirms it
// again.
func (s *spendWatch) unconfirmFrom(height int64) {
	for _, w := range s.txs {
		if w.height >= height {
			w.height = 0
		}
	}
}

// expire forgets the confirmed transactions mined at or below height: no
// reorganisation the ledger follows reaches them.
func (s *spendWatch) expire(height int64) {
	for id, w := range s.txs {
		if w.height > 0 && w.height <= height {
			s.remove(id)
		}
	}
}

// keep forgets every unconfirmed transaction not in live (the ledger's
// unconfirmed ones); confirmed ones stay until expire.
func (s *spendWatch) keep(live map[chainhash.Hash]bool) {
	for id, w := range s.txs {
		if w.height == 0 && !live[id] {
			s.remove(id)
		}
	}
}
