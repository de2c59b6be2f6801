package bitcoin

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// MaxWatchScript is the longest scriptPubKey the watch set holds: p2tr and
// p2wsh outputs (34 bytes) are the longest address forms in use.
const MaxWatchScript = 34

// scriptKey is a script as a fixed-size map key: no per-entry heap
// allocation, and the length byte keeps a short script apart from a longer
// one that starts with it and ends in zero bytes.
type scriptKey struct {
	n uint8
	b [MaxWatchScript]byte
}

func keyOf(script []byte) (scriptKey, bool) {
	var k scriptKey
	if len(script) == 0 || len(script) > MaxWatchScript {
		return k, false
	}
	k.n = uint8(len(script))
	copy(k.b[:], script)
	return k, true
}

// WatchEntry says why a script is watched.
type WatchEntry struct {
	// Index is the derivation index m/0/Index when Derived is true.
	Index   uint32
	Derived bool
}

// packed is a WatchEntry in 4 bytes: derivation indexes are below 2^31,
// the top bit says "derived".
type packed uint32

const derivedBit = 1 << 31

func pack(e WatchEntry) packed {
	if e.Derived {
		return packed(e.Index&^derivedBit | derivedBit)
	}
	return packed(e.Index &^ derivedBit)
}

func (p packed) entry() WatchEntry {
	return WatchEntry{Index: uint32(p) &^ derivedBit, Derived: p&derivedBit != 0}
}

// WatchSet is the set of watched scriptPubKeys. It is safe for concurrent
// use.
//
// Next to the map it keeps a bit filter indexed by 8 bytes of each script's
// hash part: most outputs of a block are not ours, and one probe of a few
// megabytes of bits avoids a cache-missing probe of a 100 MB map.
type WatchSet struct {
	mu     sync.RWMutex
	m      map[scriptKey]packed
	filter []uint64
	shift  uint // 64 - log2(filter bits)
}

// NewWatchSet makes an empty set sized for about sizeHint scripts.
func NewWatchSet(sizeHint int) *WatchSet {
	w := &WatchSet{m: make(map[scriptKey]packed, sizeHint)}
	w.resizeFilter(sizeHint)
	return w
}

// resizeFilter sizes the filter at >= 32 bits per script (about 3% false
// positives), between 64 Kbit and 32 Mbit (4 MB), and refills it.
func (w *WatchSet) resizeFilter(n int) {
	bits := uint(16)
	for bits < 25 && 1<<bits < 32*n {
		bits++
	}
	w.filter = make([]uint64, (1<<bits)/64)
	w.shift = 64 - bits
	for k := range w.m {
		w.setBit(k.b[:k.n])
	}
}

// filterPos picks 8 bytes that lie inside the hash of every address
// script (p2pkh, p2sh, p2wpkh, p2wsh, p2tr) and mixes in the length.
func (w *WatchSet) filterPos(s []byte) uint64 {
	var v uint64
	if n := len(s); n >= 10 {
		v = binary.LittleEndian.Uint64(s[n-10:])
	} else {
		var b [8]byte
		copy(b[:], s)
		v = binary.LittleEndian.Uint64(b[:])
	}
	v ^= uint64(len(s))
	return (v * 0x9e3779b97f4a7c15) >> w.shift
}

func (w *WatchSet) setBit(s []byte) {
	p := w.filterPos(s)
	w.filter[p/64] |= 1 << (p % 64)
}

func (w *WatchSet) mayHave(s []byte) bool {
	p := w.filterPos(s)
	return w.filter[p/64]&(1<<(p%64)) != 0
}

// Add watches script. A derived entry wins over a plain one for the same
// script (an address subscribed before it was allocated).
func (w *WatchSet) Add(script []byte, e WatchEntry) error {
	k, ok := keyOf(script)
	if !ok {
		return fmt.Errorf("watch script of %d bytes: only standard output scripts of 1..%d bytes can be watched", len(script), MaxWatchScript)
	}
	if e.Derived && e.Index >= derivedBit {
		return fmt.Errorf("watch derivation index %d: out of range", e.Index)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.m[k]; ok && old.entry().Derived {
		return nil
	}
	w.m[k] = pack(e)
	if len(w.m)*32 > len(w.filter)*64 && w.shift > 64-25 {
		w.resizeFilter(2 * len(w.m))
	} else {
		w.setBit(script)
	}
	return nil
}

// Lookup reports whether script is watched.
func (w *WatchSet) Lookup(script []byte) (WatchEntry, bool) {
	k, ok := keyOf(script)
	if !ok {
		return WatchEntry{}, false
	}
	w.mu.RLock()
	p, ok := w.m[k]
	w.mu.RUnlock()
	return p.entry(), ok
}

// Len is the number of watched scripts.
func (w *WatchSet) Len() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return len(w.m)
}

// Match is one transaction output paying a watched script.
type Match struct {
	TxID    string // display (reversed) hex, as RPCs and explorers show it
	Vout    uint32
	Script  []byte
	Address string // the script's address on the network ("" if it has none)
	Amount  uint64 // satoshi
	Entry   WatchEntry
	tx      int // the transaction's index in the scanned list
}

// ScanParams is what a scan needs of the chain: the network (address
// encodings) and the family's money limit.
type ScanParams struct {
	Net      *chaincfg.Params
	MaxMoney int64
}

// BadValue is an output whose value is negative or above the family's
// MaxMoney: no valid transaction has one, so the node's data is crafted or
// corrupt. The scan skips it.
type BadValue struct {
	TxID  string
	Vout  uint32
	Value int64
}

// ScanTxs appends to dst the outputs of txs that pay watched scripts, in
// order, and to bad the outputs whose value is out of range (skipped).
// id(i) is the id of txs[i], asked only for a transaction that pays a
// watched script or carries a bad value; nil means txs[i].TxHash().
func (w *WatchSet) ScanTxs(dst []Match, bad []BadValue, txs []*wire.MsgTx, id func(i int) chainhash.Hash, p ScanParams) ([]Match, []BadValue) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	for i, tx := range txs {
		dst, bad = w.scanTx(dst, bad, txs, i, tx, id, p)
	}
	return dst, bad
}

func (w *WatchSet) scanTx(dst []Match, bad []BadValue, txs []*wire.MsgTx, i int, tx *wire.MsgTx, id func(int) chainhash.Hash, p ScanParams) ([]Match, []BadValue) {
	var txid string
	txID := func() string {
		if txid == "" { // hashed only for transactions that matter
			var h chainhash.Hash
			if id != nil {
				h = id(i)
			} else {
				h = txs[i].TxHash()
			}
			txid = h.String()
		}
		return txid
	}
	for vout, out := range tx.TxOut {
		if uint64(out.Value) > uint64(p.MaxMoney) { // negative too
			bad = append(bad, BadValue{TxID: txID(), Vout: uint32(vout), Value: out.Value})
			continue
		}
		s := out.PkScript
		if len(s) == 0 || len(s) > MaxWatchScript || !w.mayHave(s) {
			continue
		}
		var k scriptKey
		k.n = uint8(len(s))
		copy(k.b[:], s)
		e, ok := w.m[k]
		if !ok {
			continue
		}
		dst = append(dst, Match{
			TxID: txID(), Vout: uint32(vout), Script: bytes.Clone(s),
			Address: ScriptAddress(p.Net, s), Amount: uint64(out.Value), Entry: e.entry(), tx: i,
		})
	}
	return dst, bad
}
