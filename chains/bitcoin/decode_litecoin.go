package bitcoin

import (
	"bytes"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	ltcwire "github.com/ltcsuite/ltcd/wire"
)

// LitecoinDecoder reads Litecoin's formats with ltcd's wire package, which
// knows MWEB (the extension block activated at height 432 on regtest):
//
//   - blocks with MWEB end with the HogEx transaction (segwit-style flag
//     0x08) followed by the extension block; the HogEx's canonical outputs
//     (peg-outs to ordinary addresses) are scanned like any other, the
//     extension block's own outputs are confidential and are not;
//   - a peg-in in the mempool (flag 0x09) has canonical inputs and outputs
//     beside its MWEB data; an MWEB-only transaction has none.
//
// The watcher gets each transaction's canonical part as a btcd
// wire.MsgTx (outpoints and sequence of the inputs, value and script of
// the outputs: what it matches and checks for conflicts; no signatures or
// witnesses) with the id ltcd computes, which is the node's.
type LitecoinDecoder struct{}

// DecodeBlock implements Decoder.
func (LitecoinDecoder) DecodeBlock(raw []byte) (*Block, error) {
	var b ltcwire.MsgBlock
	if err := decodeWhole(raw, b.Deserialize); err != nil {
		return nil, fmt.Errorf("block %w: %v", ErrUndecodable, err)
	}
	txs := make([]*wire.MsgTx, len(b.Transactions))
	for i, tx := range b.Transactions {
		txs[i] = canonicalTx(tx)
	}
	return &Block{
		Hash: chainhash.Hash(b.BlockHash()), Prev: chainhash.Hash(b.Header.PrevBlock), Txs: txs,
		TxID: func(i int) chainhash.Hash { return chainhash.Hash(b.Transactions[i].TxHash()) },
	}, nil
}

// DecodeTx implements Decoder.
func (LitecoinDecoder) DecodeTx(raw []byte) (Tx, error) {
	var tx ltcwire.MsgTx
	if err := decodeWhole(raw, tx.Deserialize); err != nil {
		return Tx{}, fmt.Errorf("transaction %w: %v", ErrUndecodable, err)
	}
	return Tx{ID: chainhash.Hash(tx.TxHash()), Msg: canonicalTx(&tx)}, nil
}

// decodeWhole runs a decoder over raw, which it must use entirely. A
// decoder that panics on hostile data is an error, not a crash.
func decodeWhole(raw []byte, decode func(io.Reader) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed data (%v)", r)
		}
	}()
	r := bytes.NewReader(raw)
	if err := decode(r); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", r.Len())
	}
	return nil
}

// canonicalTx is the canonical part of a Litecoin transaction.
func canonicalTx(lt *ltcwire.MsgTx) *wire.MsgTx {
	tx := &wire.MsgTx{Version: lt.Version, LockTime: lt.LockTime,
		TxIn: make([]*wire.TxIn, len(lt.TxIn)), TxOut: make([]*wire.TxOut, len(lt.TxOut))}
	for i, in := range lt.TxIn {
		tx.TxIn[i] = &wire.TxIn{
			PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash(in.PreviousOutPoint.Hash), Index: in.PreviousOutPoint.Index},
			Sequence:         in.Sequence,
		}
	}
	for i, out := range lt.TxOut {
		tx.TxOut[i] = &wire.TxOut{Value: out.Value, PkScript: out.PkScript}
	}
	return tx
}
