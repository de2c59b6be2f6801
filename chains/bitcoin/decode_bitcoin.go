package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// decodeBitcoinBlock reads a block in Bitcoin's wire format for a scan:
// the header, and each transaction's canonical part (version, inputs,
// outputs, lock time) as btcd wire transactions. It reads the same format
// as btcd's MsgBlock.Deserialize and refuses what it refuses, but it is
// made for the block source's one pass over a block:
//
//   - scripts are slices of raw, not copies (the decoded block lives as
//     long as raw: one scan);
//   - witnesses are checked for length and skipped (a watcher needs
//     neither them nor the witness hash);
//   - inputs, outputs and transactions come from a few large arrays
//     instead of an allocation each;
//   - a transaction's id is hashed from raw when asked for (Block.TxID),
//     without serialising it again.
//
// Anything in a transaction's outputs or inputs must still be copied by
// whoever keeps it beyond the scan (Match.Script is; spendWatch copies
// outpoints).
func decodeBitcoinBlock(raw []byte) (*Block, error) {
	if len(raw) < blockHeaderLen {
		return nil, fmt.Errorf("block %w: %d bytes, shorter than a header", ErrUndecodable, len(raw))
	}
	var h wire.BlockHeader
	if err := h.Deserialize(bytes.NewReader(raw[:blockHeaderLen])); err != nil {
		return nil, fmt.Errorf("block %w: header: %w", ErrUndecodable, err)
	}
	c := cursor{b: raw, off: blockHeaderLen}
	n, err := c.varInt()
	if err != nil {
		return nil, fmt.Errorf("block %w: transaction count: %w", ErrUndecodable, err)
	}
	// A transaction takes at least 10 bytes.
	if n == 0 || n > uint64(c.left())/10 {
		return nil, fmt.Errorf("block %w: %d transactions in %d bytes", ErrUndecodable, n, c.left())
	}
	d := blockDecoder{c: c}
	msgs := make([]wire.MsgTx, n)
	txs := make([]*wire.MsgTx, n)
	spans := make([]txSpan, n)
	for i := range msgs {
		if spans[i], err = d.tx(&msgs[i]); err != nil {
			return nil, fmt.Errorf("block %w: transaction %d: %w", ErrUndecodable, i, err)
		}
		txs[i] = &msgs[i]
	}
	if d.c.left() != 0 {
		return nil, fmt.Errorf("block %w: %d trailing bytes", ErrUndecodable, d.c.left())
	}
	return &Block{Hash: h.BlockHash(), Prev: h.PrevBlock, Txs: txs, TxID: func(i int) chainhash.Hash { return spans[i].id(raw) }}, nil
}

const blockHeaderLen = 80

// txSpan is where a transaction lies in the block: its id is the double
// SHA-256 of [start, end) without the witness part, which for a segwit
// transaction is the marker and flag (2 bytes after the version) and the
// witnesses (between the outputs and the lock time).
type txSpan struct {
	start, end int
	outEnd     int // where the outputs end (segwit: the witnesses start)
	segwit     bool
}

func (s txSpan) id(raw []byte) chainhash.Hash {
	if !s.segwit {
		return chainhash.DoubleHashH(raw[s.start:s.end])
	}
	h := sha256.New()
	h.Write(raw[s.start : s.start+4])  // version
	h.Write(raw[s.start+6 : s.outEnd]) // inputs and outputs, after the marker and flag
	h.Write(raw[s.end-4 : s.end])      // lock time
	var first [sha256.Size]byte
	return chainhash.Hash(sha256.Sum256(h.Sum(first[:0])))
}

// blockDecoder hands out inputs and outputs from shared arrays.
type blockDecoder struct {
	c       cursor
	ins     []wire.TxIn
	inPtrs  []*wire.TxIn
	outs    []wire.TxOut
	outPtrs []*wire.TxOut
}

// slabLen is how many inputs or outputs one shared array holds.
const slabLen = 1024

func (d *blockDecoder) takeIns(n int) []*wire.TxIn { return take(&d.ins, &d.inPtrs, n) }

func (d *blockDecoder) takeOuts(n int) []*wire.TxOut { return take(&d.outs, &d.outPtrs, n) }

// take hands out n pointers to fresh elements of a shared array, starting
// a new one (of slabLen, or n when larger) when it runs out.
func take[T any](slab *[]T, ptrs *[]*T, n int) []*T {
	if n > len(*slab) {
		*slab, *ptrs = make([]T, max(n, slabLen)), make([]*T, max(n, slabLen))
	}
	out := (*ptrs)[:n:n]
	for i := range out {
		out[i] = &(*slab)[i]
	}
	*slab, *ptrs = (*slab)[n:], (*ptrs)[n:]
	return out
}

// tx reads one transaction into tx.
func (d *blockDecoder) tx(tx *wire.MsgTx) (txSpan, error) {
	c := &d.c
	s := txSpan{start: c.off}
	v, err := c.uint32()
	if err != nil {
		return s, fmt.Errorf("version: %w", err)
	}
	tx.Version = int32(v)
	nIn, err := c.varInt()
	if err != nil {
		return s, fmt.Errorf("input count: %w", err)
	}
	if nIn == 0 {
		// The segwit marker; the flag must be 1 (btcd refuses others).
		flag, err := c.byte()
		if err != nil {
			return s, fmt.Errorf("flag: %w", err)
		}
		if flag != 0x01 {
			return s, fmt.Errorf("witness flag byte %#02x", flag)
		}
		s.segwit = true
		if nIn, err = c.varInt(); err != nil {
			return s, fmt.Errorf("input count: %w", err)
		}
	}
	// An input takes at least 41 bytes, an output 9: counts beyond what is
	// left are refused before anything is allocated.
	if nIn > uint64(c.left())/41 {
		return s, fmt.Errorf("%d inputs in %d bytes", nIn, c.left())
	}
	tx.TxIn = d.takeIns(int(nIn))
	for i, in := range tx.TxIn {
		if err := c.input(in); err != nil {
			return s, fmt.Errorf("input %d: %w", i, err)
		}
	}
	nOut, err := c.varInt()
	if err != nil {
		return s, fmt.Errorf("output count: %w", err)
	}
	if nOut > uint64(c.left())/9 {
		return s, fmt.Errorf("%d outputs in %d bytes", nOut, c.left())
	}
	tx.TxOut = d.takeOuts(int(nOut))
	for i, out := range tx.TxOut {
		v, err := c.uint64()
		if err != nil {
			return s, fmt.Errorf("output %d: %w", i, err)
		}
		out.Value = int64(v)
		if out.PkScript, err = c.varBytes(); err != nil {
			return s, fmt.Errorf("output %d script: %w", i, err)
		}
	}
	s.outEnd = c.off
	if s.segwit {
		witnessed := false
		for i := range tx.TxIn {
			items, err := c.varInt()
			if err != nil || items > uint64(c.left()) {
				return s, fmt.Errorf("input %d witness: %d items in %d bytes (%v)", i, items, c.left(), err)
			}
			witnessed = witnessed || items > 0
			for j := uint64(0); j < items; j++ {
				if _, err := c.varBytes(); err != nil {
					return s, fmt.Errorf("input %d witness item %d: %w", i, j, err)
				}
			}
		}
		if !witnessed {
			// Bitcoin Core and btcd refuse a superfluous witness record.
			return s, errors.New("witness flag set but no input has a witness")
		}
	}
	if tx.LockTime, err = c.uint32(); err != nil {
		return s, fmt.Errorf("lock time: %w", err)
	}
	s.end = c.off
	return s, nil
}

// cursor reads a byte slice from the front.
type cursor struct {
	b   []byte
	off int
}

var errShort = errors.New("unexpected end of data")

func (c *cursor) left() int { return len(c.b) - c.off }

func (c *cursor) byte() (byte, error) {
	if c.left() < 1 {
		return 0, errShort
	}
	c.off++
	return c.b[c.off-1], nil
}

func (c *cursor) uint32() (uint32, error) {
	if c.left() < 4 {
		return 0, errShort
	}
	c.off += 4
	return binary.LittleEndian.Uint32(c.b[c.off-4:]), nil
}

func (c *cursor) uint64() (uint64, error) {
	if c.left() < 8 {
		return 0, errShort
	}
	c.off += 8
	return binary.LittleEndian.Uint64(c.b[c.off-8:]), nil
}

// varInt reads a CompactSize, refusing a non-canonical one (as btcd does).
func (c *cursor) varInt() (uint64, error) {
	p, err := c.byte()
	if err != nil {
		return 0, err
	}
	var v, least uint64
	switch p {
	case 0xfd:
		if c.left() < 2 {
			return 0, errShort
		}
		v, least = uint64(binary.LittleEndian.Uint16(c.b[c.off:])), 0xfd
		c.off += 2
	case 0xfe:
		u, err := c.uint32()
		if err != nil {
			return 0, err
		}
		v, least = uint64(u), 0x10000
	case 0xff:
		u, err := c.uint64()
		if err != nil {
			return 0, err
		}
		v, least = u, 0x100000000
	default:
		return uint64(p), nil
	}
	if v < least {
		return 0, fmt.Errorf("non-canonical varint %x (%d)", p, v)
	}
	return v, nil
}

// varBytes returns a length-prefixed byte string as a slice of the data.
func (c *cursor) varBytes() ([]byte, error) {
	n, err := c.varInt()
	if err != nil {
		return nil, err
	}
	if n > uint64(c.left()) {
		return nil, fmt.Errorf("%d bytes announced, %d left", n, c.left())
	}
	b := c.b[c.off : c.off+int(n) : c.off+int(n)]
	c.off += int(n)
	return b, nil
}

// input reads one input.
func (c *cursor) input(in *wire.TxIn) error {
	if c.left() < chainhash.HashSize+4 {
		return errShort
	}
	copy(in.PreviousOutPoint.Hash[:], c.b[c.off:])
	in.PreviousOutPoint.Index = binary.LittleEndian.Uint32(c.b[c.off+chainhash.HashSize:])
	c.off += chainhash.HashSize + 4
	var err error
	if in.SignatureScript, err = c.varBytes(); err != nil {
		return fmt.Errorf("script: %w", err)
	}
	in.Sequence, err = c.uint32()
	return err
}
