package bitcoin

import (
	"encoding/binary"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// spendWatch remembers the coins spent by the unconfirmed transactions
// that pay watched addresses, to notice a transaction spending one of them
// too: a replacement in the mempool, a double spend in a block. Either
// means ours can never be mined. It is used from the watcher's rounds
// only.
type spendWatch struct {
	owner map[wire.OutPoint]chainhash.Hash // coin -> our unconfirmed transaction spending it
	coins map[chainhash.Hash][]wire.OutPoint
	// filter has a bit per watched coin (a few false positives): a block's
	// inputs are probed there first, not in the map.
	filter [1 << 10]uint64
}

func filterBit(op wire.OutPoint) (word int, bit uint64) {
	v := binary.LittleEndian.Uint64(op.Hash[:8]) ^ uint64(op.Index)*0x9e3779b97f4a7c15
	v >>= 64 - 16
	return int(v / 64), 1 << (v % 64)
}

func newSpendWatch() *spendWatch {
	return &spendWatch{owner: map[wire.OutPoint]chainhash.Hash{}, coins: map[chainhash.Hash][]wire.OutPoint{}}
}

// add records the coins tx (id) spends.
func (s *spendWatch) add(id chainhash.Hash, tx *wire.MsgTx) {
	if _, ok := s.coins[id]; ok {
		return
	}
	ops := make([]wire.OutPoint, 0, len(tx.TxIn))
	for _, in := range tx.TxIn {
		ops = append(ops, in.PreviousOutPoint)
		s.owner[in.PreviousOutPoint] = id
		w, b := filterBit(in.PreviousOutPoint)
		s.filter[w] |= b
	}
	s.coins[id] = ops
}

// remove forgets id's coins.
func (s *spendWatch) remove(id chainhash.Hash) {
	for _, op := range s.coins[id] {
		if s.owner[op] == id {
			delete(s.owner, op)
		}
	}
	delete(s.coins, id)
	if len(s.owner) == 0 {
		clear(s.filter[:]) // bits of removed coins are left otherwise
	}
}

// empty reports whether nothing is watched (a block scan then skips every
// input).
func (s *spendWatch) empty() bool { return len(s.owner) == 0 }

// has reports whether id's coins are watched.
func (s *spendWatch) has(id chainhash.Hash) bool { _, ok := s.coins[id]; return ok }

// check looks at transaction tx, whose id is asked only when it spends a
// watched coin: it appends to dst the watched transactions tx conflicts
// with (each once), and mined is true when tx is itself a watched one.
func (s *spendWatch) check(tx *wire.MsgTx, id func() chainhash.Hash, dst []chainhash.Hash) (_ []chainhash.Hash, mined bool) {
	if len(s.owner) == 0 {
		return dst, false
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
		if ours == txid {
			mined = true
			continue
		}
		dup := false
		for _, d := range dst {
			dup = dup || d == ours
		}
		if !dup {
			dst = append(dst, ours)
		}
	}
	return dst, mined
}

// keep forgets every transaction not in live.
func (s *spendWatch) keep(live map[chainhash.Hash]bool) {
	for id := range s.coins {
		if !live[id] {
			s.remove(id)
		}
	}
}
