package bitcoin

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Decoder reads a chain's wire formats: the one place where the formats
// of Bitcoin-family chains differ (Litecoin's MWEB data, for one). It
// hands the watcher btcd wire transactions holding what the watcher scans
// and checks for conflicts: the canonical inputs and outputs.
type Decoder interface {
	// DecodeBlock decodes a block as `getblock HASH 0` returns it
	// (hex-decoded); all of it must be used.
	DecodeBlock(raw []byte) (*Block, error)
	// DecodeTx decodes a transaction as `getrawtransaction` or ZMQ
	// `rawtx` carries it. A valid transaction with nothing canonical to
	// watch (Litecoin's MWEB-only ones) is ErrNoCanonicalPart.
	DecodeTx(raw []byte) (Tx, error)
}

// Block is a decoded block.
type Block struct {
	Hash, Prev chainhash.Hash
	Txs        []*wire.MsgTx
	// TxID returns the id of Txs[i], computed when asked (a block scan
	// hashes only the transactions that matter); nil means
	// Txs[i].TxHash().
	TxID func(i int) chainhash.Hash
}

// ID is the id of transaction i.
func (b *Block) ID(i int) chainhash.Hash {
	if b.TxID != nil {
		return b.TxID(i)
	}
	return b.Txs[i].TxHash()
}

// Tx is a decoded transaction and its id.
type Tx struct {
	ID  chainhash.Hash
	Msg *wire.MsgTx
}

// ErrUndecodable is wrapped by every decoding failure: the node sent data
// in a format this adapter does not read.
var ErrUndecodable = errors.New("does not decode")

// BitcoinDecoder reads Bitcoin's formats with btcd's wire package.
type BitcoinDecoder struct{}

// DecodeBlock implements Decoder (decodeBitcoinBlock: the block source's
// single pass, reading what btcd reads).
func (BitcoinDecoder) DecodeBlock(raw []byte) (*Block, error) {
	return decodeBitcoinBlock(raw)
}

// DecodeTx implements Decoder.
func (BitcoinDecoder) DecodeTx(raw []byte) (Tx, error) {
	var tx wire.MsgTx
	r := bytes.NewReader(raw)
	if err := tx.Deserialize(r); err != nil {
		return Tx{}, fmt.Errorf("transaction %w: %w", ErrUndecodable, err)
	}
	if r.Len() != 0 {
		return Tx{}, fmt.Errorf("transaction %w: %d trailing bytes", ErrUndecodable, r.Len())
	}
	return Tx{ID: tx.TxHash(), Msg: &tx}, nil
}
