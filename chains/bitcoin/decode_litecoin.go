package bitcoin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/wire"
)

// LitecoinDecoder reads Litecoin's formats: Bitcoin's, with the MWEB
// (extension block) additions Litecoin Core 0.21.2 writes:
//
//   - the segwit-style flag byte may carry 0x08 (MWEB) besides 0x01
//     (witness); such a transaction has, after its witnesses and before its
//     lock time, one byte: 0 for the HogEx (the transaction that ends every
//     block once MWEB is active: its outputs are the peg-outs to ordinary
//     addresses), else the MWEB part of the transaction follows;
//   - a block whose header version has bit 29 set and whose last
//     transaction is the HogEx is followed by the extension block (its
//     header and the MWEB transactions), after the transaction list.
//
// Only the canonical part matters to a watcher: inputs (outpoints) and
// outputs (value, script); MWEB outputs are confidential. So this decoder
// reads the canonical transactions, verifies the structure around the MWEB
// data and leaves the MWEB data itself unread: in a block the extension
// block is what follows the HogEx, in a mempool transaction the MWEB part
// is what lies between the witnesses and the lock time (the last four
// bytes). A transaction's id is the hash of its canonical serialisation
// without witnesses (as for Bitcoin), which is what btcd's TxHash computes
// from the canonical part. An MWEB-only transaction (no canonical input or
// output: MWEB to MWEB, or a peg-out, whose canonical output appears in the
// next HogEx) has nothing to watch and is reported as ErrNoCanonicalPart.
//
// Block transactions never carry MWEB parts (Litecoin Core moves them to
// the extension block); one that does is refused. The decoder is pure Go
// (ltcd's wire, which also reads MWEB, needs cgo, and ipnd is one static
// cgo-free binary); its results are checked against litecoind's own
// (getblock, getrawtransaction) in the tests.
type LitecoinDecoder struct{}

// ErrNoCanonicalPart: a valid transaction without canonical inputs or
// outputs (Litecoin's MWEB-only transactions): nothing a watcher can see.
var ErrNoCanonicalPart = errors.New("transaction has no canonical inputs or outputs")

// Flag bits of the segwit-style flag byte.
const (
	flagWitness = 0x01
	flagMWEB    = 0x08
)

// mwebVersionBit marks a block header that may have an extension block.
const mwebVersionBit = 1 << 29

// DecodeBlock implements Decoder.
func (LitecoinDecoder) DecodeBlock(raw []byte) (*Block, error) {
	r := bytes.NewReader(raw)
	var h wire.BlockHeader
	if err := h.Deserialize(r); err != nil {
		return nil, fmt.Errorf("block %w: header: %w", ErrUndecodable, err)
	}
	n, err := wire.ReadVarInt(r, 0)
	if err != nil {
		return nil, fmt.Errorf("block %w: transaction count: %w", ErrUndecodable, err)
	}
	if n == 0 || n > uint64(r.Len())/10 {
		return nil, fmt.Errorf("block %w: %d transactions in %d bytes", ErrUndecodable, n, r.Len())
	}
	txs := make([]*wire.MsgTx, 0, n)
	hogex := false
	for i := uint64(0); i < n; i++ {
		tx, isHogEx, err := readLitecoinTx(r, true)
		if err != nil {
			return nil, fmt.Errorf("block %w: transaction %d: %w", ErrUndecodable, i, err)
		}
		if hogex {
			return nil, fmt.Errorf("block %w: transaction %d follows the HogEx", ErrUndecodable, i)
		}
		hogex = isHogEx
		txs = append(txs, tx)
	}
	if r.Len() > 0 {
		if !hogex || h.Version&mwebVersionBit == 0 {
			return nil, fmt.Errorf("block %w: %d trailing bytes", ErrUndecodable, r.Len())
		}
		// The extension block: a presence byte, then its header and body.
		if has, _ := r.ReadByte(); has > 1 || (has == 0 && r.Len() > 0) {
			return nil, fmt.Errorf("block %w: extension block marker %d with %d bytes after it", ErrUndecodable, has, r.Len())
		}
	}
	return &Block{Hash: h.BlockHash(), Prev: h.PrevBlock, Txs: txs}, nil
}

// DecodeTx implements Decoder.
func (LitecoinDecoder) DecodeTx(raw []byte) (Tx, error) {
	r := bytes.NewReader(raw)
	tx, _, err := readLitecoinTx(r, false)
	if errors.Is(err, ErrNoCanonicalPart) {
		return Tx{}, err
	}
	if err != nil {
		return Tx{}, fmt.Errorf("transaction %w: %w", ErrUndecodable, err)
	}
	if r.Len() != 0 {
		return Tx{}, fmt.Errorf("transaction %w: %d trailing bytes", ErrUndecodable, r.Len())
	}
	return Tx{ID: tx.TxHash(), Msg: tx}, nil
}

// readLitecoinTx reads one transaction's canonical part. In a block
// (inBlock) an MWEB part is an error; alone, it is everything up to the
// last four bytes (the lock time). It reports whether the transaction is
// a HogEx.
func readLitecoinTx(r *bytes.Reader, inBlock bool) (*wire.MsgTx, bool, error) {
	var b4 [4]byte
	if _, err := io.ReadFull(r, b4[:]); err != nil {
		return nil, false, fmt.Errorf("version: %w", err)
	}
	tx := &wire.MsgTx{Version: int32(binary.LittleEndian.Uint32(b4[:]))}
	nIn, err := wire.ReadVarInt(r, 0)
	if err != nil {
		return nil, false, fmt.Errorf("input count: %w", err)
	}
	var flag byte
	if nIn == 0 {
		if flag, err = r.ReadByte(); err != nil {
			return nil, false, fmt.Errorf("flag: %w", err)
		}
		if flag == 0 || flag&^(flagWitness|flagMWEB) != 0 {
			return nil, false, fmt.Errorf("unknown flag byte %#02x", flag)
		}
		if nIn, err = wire.ReadVarInt(r, 0); err != nil {
			return nil, false, fmt.Errorf("input count: %w", err)
		}
	}
	// Each input takes at least 41 bytes, each output 9: counts beyond
	// what is left are refused before anything is allocated.
	if nIn > uint64(r.Len())/41 {
		return nil, false, fmt.Errorf("%d inputs in %d bytes", nIn, r.Len())
	}
	tx.TxIn = make([]*wire.TxIn, nIn)
	for i := range tx.TxIn {
		in := &wire.TxIn{}
		if _, err := io.ReadFull(r, in.PreviousOutPoint.Hash[:]); err != nil {
			return nil, false, fmt.Errorf("input %d: %w", i, err)
		}
		if _, err := io.ReadFull(r, b4[:]); err != nil {
			return nil, false, fmt.Errorf("input %d: %w", i, err)
		}
		in.PreviousOutPoint.Index = binary.LittleEndian.Uint32(b4[:])
		if in.SignatureScript, err = readVarBytes(r); err != nil {
			return nil, false, fmt.Errorf("input %d script: %w", i, err)
		}
		if _, err := io.ReadFull(r, b4[:]); err != nil {
			return nil, false, fmt.Errorf("input %d: %w", i, err)
		}
		in.Sequence = binary.LittleEndian.Uint32(b4[:])
		tx.TxIn[i] = in
	}
	nOut, err := wire.ReadVarInt(r, 0)
	if err != nil {
		return nil, false, fmt.Errorf("output count: %w", err)
	}
	if nOut > uint64(r.Len())/9 {
		return nil, false, fmt.Errorf("%d outputs in %d bytes", nOut, r.Len())
	}
	tx.TxOut = make([]*wire.TxOut, nOut)
	for i := range tx.TxOut {
		out := &wire.TxOut{}
		var b8 [8]byte
		if _, err := io.ReadFull(r, b8[:]); err != nil {
			return nil, false, fmt.Errorf("output %d: %w", i, err)
		}
		out.Value = int64(binary.LittleEndian.Uint64(b8[:]))
		if out.PkScript, err = readVarBytes(r); err != nil {
			return nil, false, fmt.Errorf("output %d script: %w", i, err)
		}
		tx.TxOut[i] = out
	}
	if flag&flagWitness != 0 {
		for i := range tx.TxIn {
			items, err := wire.ReadVarInt(r, 0)
			if err != nil || items > uint64(r.Len()) {
				return nil, false, fmt.Errorf("input %d witness: %d items in %d bytes (%v)", i, items, r.Len(), err)
			}
			for j := uint64(0); j < items; j++ {
				if _, err := readVarBytes(r); err != nil {
					return nil, false, fmt.Errorf("input %d witness item %d: %w", i, j, err)
				}
			}
		}
	}
	hogex := false
	if flag&flagMWEB != 0 {
		part, err := r.ReadByte()
		if err != nil {
			return nil, false, fmt.Errorf("MWEB marker: %w", err)
		}
		switch {
		case part == 0:
			hogex = true
			if len(tx.TxOut) == 0 {
				return nil, false, errors.New("a HogEx without outputs")
			}
		case inBlock:
			return nil, false, errors.New("MWEB data inside a block's transaction list")
		default:
			// The MWEB part, unread: the lock time is the last four bytes.
			if r.Len() < 4+1 {
				return nil, false, fmt.Errorf("MWEB part and lock time in %d bytes", r.Len())
			}
			if _, err := r.Seek(int64(r.Len()-4), io.SeekCurrent); err != nil {
				return nil, false, err
			}
			if len(tx.TxIn) == 0 && len(tx.TxOut) == 0 {
				_, _ = r.Seek(0, io.SeekEnd)
				return nil, false, ErrNoCanonicalPart
			}
		}
	}
	if _, err := io.ReadFull(r, b4[:]); err != nil {
		return nil, false, fmt.Errorf("lock time: %w", err)
	}
	tx.LockTime = binary.LittleEndian.Uint32(b4[:])
	if len(tx.TxIn) == 0 && flag&flagMWEB == 0 {
		return nil, false, errors.New("no inputs")
	}
	return tx, hogex, nil
}

// readVarBytes reads a length-prefixed byte string that must fit in what
// is left of r.
func readVarBytes(r *bytes.Reader) ([]byte, error) {
	n, err := wire.ReadVarInt(r, 0)
	if err != nil {
		return nil, err
	}
	if n > uint64(r.Len()) {
		return nil, fmt.Errorf("%d bytes announced, %d left", n, r.Len())
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}
