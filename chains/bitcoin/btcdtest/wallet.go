package btcdtest

import (
	"bytes"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// Wallet is a funding key shared by the nodes of a test: the nodes mine to
// its p2wpkh address and Pay spends its mature coinbases. It remembers the
// outpoints it spent so two nodes never reuse one by accident.
type Wallet struct {
	Key     *btcec.PrivateKey
	Address btcutil.Address
	Script  []byte

	mu   sync.Mutex
	used map[wire.OutPoint]bool
}

// NewWallet makes a wallet with a fresh key.
func NewWallet(tb TB) *Wallet {
	tb.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), Params)
	if err != nil {
		tb.Fatal(err)
	}
	script, _ := txscript.PayToAddrScript(addr)
	return &Wallet{Key: key, Address: addr, Script: script, used: map[wire.OutPoint]bool{}}
}

// claim marks op used and reports whether it was free.
func (w *Wallet) claim(op wire.OutPoint) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.used[op] {
		return false
	}
	w.used[op] = true
	return true
}

// Output is one output to create.
type Output struct {
	Address string
	Amount  uint64
}

type coin struct {
	op    wire.OutPoint
	value int64
}

// nextCoin finds a mature coinbase of the wallet, unspent on this node and
// not used by the wallet before, and marks it used.
func (n *Node) nextCoin() coin {
	n.tb.Helper()
	c, ok := n.findCoin()
	if !ok {
		n.tb.Fatalf("no mature unspent coinbase of the test wallet at height %d (mine more blocks)", n.Height())
	}
	return c
}

// findCoin is nextCoin without failing when there is none.
func (n *Node) findCoin() (coin, bool) {
	tb := n.tb
	tb.Helper()
	n.coinMu.Lock()
	defer n.coinMu.Unlock()
	tip := n.Height()
	w := n.Wallet
	for ; n.cursor+100 <= tip+1; n.cursor++ {
		hash, err := n.RPC.GetBlockHash(n.cursor)
		if err != nil {
			tb.Fatalf("getblockhash %d: %v", n.cursor, err)
		}
		blk, err := n.RPC.GetBlock(hash)
		if err != nil {
			tb.Fatalf("getblock %s: %v", hash, err)
		}
		cb := blk.Transactions[0]
		for i, out := range cb.TxOut {
			if !bytes.Equal(out.PkScript, w.Script) {
				continue
			}
			op := wire.OutPoint{Hash: cb.TxHash(), Index: uint32(i)}
			w.mu.Lock()
			used := w.used[op]
			w.mu.Unlock()
			if used {
				continue
			}
			res, err := n.RPC.GetTxOut(&op.Hash, op.Index, true)
			if err != nil || res == nil {
				continue // spent (or unknown) on this node
			}
			if !w.claim(op) {
				continue
			}
			n.cursor++
			return coin{op: op, value: out.Value}, true
		}
	}
	return coin{}, false
}

// Build makes and signs (but does not send) a transaction paying outs from
// one mature coinbase, with change back to the wallet. rbf signals BIP125
// replaceability; extraFee adds to Fee (to outbid a conflicting tx).
func (n *Node) Build(outs []Output, rbf bool, extraFee int64) *wire.MsgTx {
	n.tb.Helper()
	return n.buildFrom(n.nextCoin(), outs, rbf, extraFee)
}

func (n *Node) buildFrom(c coin, outs []Output, rbf bool, extraFee int64) *wire.MsgTx {
	tb := n.tb
	tb.Helper()
	w := n.Wallet
	tx := wire.NewMsgTx(2)
	in := wire.NewTxIn(&c.op, nil, nil)
	if rbf {
		in.Sequence = 0xfffffffd
	}
	tx.AddTxIn(in)
	var total int64
	for _, o := range outs {
		a, err := btcutil.DecodeAddress(o.Address, Params)
		if err != nil {
			tb.Fatalf("pay %s: %v", o.Address, err)
		}
		s, err := txscript.PayToAddrScript(a)
		if err != nil {
			tb.Fatalf("pay %s: %v", o.Address, err)
		}
		tx.AddTxOut(wire.NewTxOut(int64(o.Amount), s))
		total += int64(o.Amount)
	}
	change := c.value - total - Fee - extraFee
	if change < 0 {
		tb.Fatalf("coinbase of %d sat cannot pay %d sat + fee", c.value, total)
	}
	if change > 1000 {
		tx.AddTxOut(wire.NewTxOut(change, w.Script))
	}
	n.signInputs(tx, []coin{c})
	return tx
}

// signInputs signs every input of tx, which spend coins (in order) paying
// the wallet's p2wpkh script.
func (n *Node) signInputs(tx *wire.MsgTx, coins []coin) {
	n.tb.Helper()
	w := n.Wallet
	prev := make(map[wire.OutPoint]*wire.TxOut, len(coins))
	for _, c := range coins {
		prev[c.op] = wire.NewTxOut(c.value, w.Script)
	}
	hashes := txscript.NewTxSigHashes(tx, txscript.NewMultiPrevOutFetcher(prev))
	for i, c := range coins {
		wit, err := txscript.WitnessSignature(tx, hashes, i, c.value, w.Script, txscript.SigHashAll, w.Key, true)
		if err != nil {
			n.tb.Fatalf("sign: %v", err)
		}
		tx.TxIn[i].Witness = wit
	}
}

// Send submits tx to the node's mempool.
func (n *Node) Send(tx *wire.MsgTx) error {
	_, err := n.RPC.SendRawTransaction(tx, true)
	return err
}

// Pay sends one transaction paying outs and returns it.
func (n *Node) Pay(outs ...Output) *wire.MsgTx {
	n.tb.Helper()
	tx := n.Build(outs, false, 0)
	if err := n.Send(tx); err != nil {
		n.tb.Fatalf("sendrawtransaction: %v", err)
	}
	return tx
}

// Conflicting builds two signed transactions spending the same coinbase:
// first pays a, second pays b with a higher fee. Both signal RBF. Neither
// is sent.
func (n *Node) Conflicting(a, b []Output) (first, second *wire.MsgTx) {
	n.tb.Helper()
	c := n.nextCoin()
	return n.buildFrom(c, a, true, 0), n.buildFrom(c, b, true, 3000)
}

// TxID is tx's id as RPCs show it.
func TxID(tx *wire.MsgTx) string { return tx.TxHash().String() }
