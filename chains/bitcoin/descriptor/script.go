package descriptor

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
)

// build assembles the scriptPubKey of t from the keys at one index (in the
// order of t.keys).
func (t *template) build(pubs []*btcec.PublicKey) ([]byte, error) {
	switch t.typ {
	case PKH:
		return txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
			AddData(btcutil.Hash160(pubs[0].SerializeCompressed())).
			AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG).Script()
	case WPKH:
		return p2wpkh(pubs[0])
	case SHWPKH:
		inner, err := p2wpkh(pubs[0])
		if err != nil {
			return nil, err
		}
		return p2sh(inner)
	case TR:
		out := txscript.ComputeTaprootKeyNoScript(pubs[0])
		return txscript.NewScriptBuilder().AddOp(txscript.OP_1).AddData(schnorr.SerializePubKey(out)).Script()
	}
	ms, err := t.multisigScript(pubs)
	if err != nil {
		return nil, err
	}
	switch t.typ {
	case SHMulti, SHSortedMulti:
		return p2sh(ms)
	case WSHMulti, WSHSortedMulti:
		return p2wsh(ms)
	case SHWSHMulti, SHWSHSortedMulti:
		w, err := p2wsh(ms)
		if err != nil {
			return nil, err
		}
		return p2sh(w)
	}
	return nil, fmt.Errorf("descriptor: no script for type %q", t.typ)
}

// multisigScript is "k KEY… n OP_CHECKMULTISIG" (BIP383) over compressed
// keys, sorted lexicographically for sortedmulti (BIP67).
func (t *template) multisigScript(pubs []*btcec.PublicKey) ([]byte, error) {
	keys := make([][]byte, len(pubs))
	for i, p := range pubs {
		keys[i] = p.SerializeCompressed()
	}
	if t.typ.Sorted() {
		slices.SortFunc(keys, bytes.Compare)
	}
	b := txscript.NewScriptBuilder().AddInt64(int64(t.threshold))
	for _, k := range keys {
		b.AddData(k)
	}
	return b.AddInt64(int64(len(keys))).AddOp(txscript.OP_CHECKMULTISIG).Script()
}

func p2wpkh(pub *btcec.PublicKey) ([]byte, error) {
	return txscript.NewScriptBuilder().AddOp(txscript.OP_0).
		AddData(btcutil.Hash160(pub.SerializeCompressed())).Script()
}

func p2sh(redeem []byte) ([]byte, error) {
	return txscript.NewScriptBuilder().AddOp(txscript.OP_HASH160).
		AddData(btcutil.Hash160(redeem)).AddOp(txscript.OP_EQUAL).Script()
}

func p2wsh(witness []byte) ([]byte, error) {
	return txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(chainhash.HashB(witness)).Script()
}
