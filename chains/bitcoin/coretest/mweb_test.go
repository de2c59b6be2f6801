//go:build cgo

// Cross-checks against ltcd's wire, which needs cgo (see genesis_ltcd_test.go).

package coretest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	btcwire "github.com/btcsuite/btcd/wire"
	ltcwire "github.com/ltcsuite/ltcd/wire"
)

// The facts the Litecoin stream builds on: MWEB activates at 432 and needs
// a peg-in for that block; from then on blocks end with a HogEx (flag 0x08)
// followed by extension-block data, a mempool peg-in has flag 0x09; btcd's
// wire rejects all three, ltcd's decodes them with the node's hashes.
func TestMWEB(t *testing.T) {
	n := node(t)
	if n.Height() < MWEBActivationHeight-1 {
		n.Generate(int(MWEBActivationHeight - 1 - n.Height()))
	}
	if n.Height() == MWEBActivationHeight-1 {
		// Block 432 cannot be mined with an empty mempool.
		ctx, cancel := contextWithTimeout()
		err := n.RPC.Call(ctx, "generatetoaddress", nil, 1, n.MiningAddress)
		cancel()
		if !IsRPCError(err, ErrCodeMisc) || !strings.Contains(err.Error(), "bad-txns-vin-empty") {
			t.Fatalf("mining block 432 without a peg-in: %v, want bad-txns-vin-empty", err)
		}
	}
	start := time.Now()
	act := n.ActivateMWEB()
	t.Logf("ActivateMWEB from height 431: %v", time.Since(start))
	if act.Height != 432 || !n.MWEB().Active {
		t.Fatalf("activation %+v, status %+v", act, n.MWEB())
	}

	// The last pre-MWEB block is plain Bitcoin format.
	var pre btcwire.MsgBlock
	if err := pre.Deserialize(bytes.NewReader(n.RawBlock(n.BlockHash(act.Height - 1)))); err != nil {
		t.Fatalf("btcd wire, block %d: %v", act.Height-1, err)
	}
	blk := checkMWEBBlock(t, n, act.BlockHash)
	if act.PegInTxID != "" && !hasTx(blk, act.PegInTxID) {
		t.Fatalf("block %d lacks the peg-in %s", act.Height, act.PegInTxID)
	}

	// A peg-in in the mempool: flag 0x09; a canonical payment beside it.
	peg := n.PegIn()
	pay := n.SendToAddress(n.NewAddress("bech32"), 1_000_000)
	n.WaitMempool(peg, true)
	raw := n.RawTransaction(peg, "")
	if raw[4] != 0 || raw[5] != FlagWitness|FlagMWEB {
		t.Fatalf("peg-in marker/flag %#x %#x, want 0x00 0x09", raw[4], raw[5])
	}
	var btx btcwire.MsgTx
	if err := btx.Deserialize(bytes.NewReader(raw)); err == nil {
		t.Fatal("btcd wire decoded a peg-in")
	}
	var ltx ltcwire.MsgTx
	r := bytes.NewReader(raw)
	if err := ltx.Deserialize(r); err != nil || r.Len() != 0 {
		t.Fatalf("ltcd wire, peg-in: %v (%d bytes left)", err, r.Len())
	}
	if ltx.TxHash().String() != peg || ltx.Mweb == nil || ltx.IsHogEx {
		t.Fatalf("ltcd peg-in: hash %s (node %s), mweb %v", ltx.TxHash(), peg, ltx.Mweb != nil)
	}
	decodeBTCTx(t, n.RawTransaction(pay, "")) // canonical transactions stay Bitcoin format

	blk = checkMWEBBlock(t, n, n.Generate(1)[0])
	if !hasTx(blk, peg) || !hasTx(blk, pay) {
		t.Fatal("peg-in or payment not mined")
	}
	checkMWEBBlock(t, n, n.Generate(1)[0]) // with no MWEB activity: HogEx all the same
}

// checkMWEBBlock asserts that the block ends with a HogEx (flag 0x08) and
// extension-block data, that btcd's wire rejects it and that ltcd's decodes
// it, consuming every byte, with the node's block hash and txids.
func checkMWEBBlock(t *testing.T, n *Node, hash string) *ltcwire.MsgBlock {
	t.Helper()
	raw := n.RawBlock(hash)
	var bb btcwire.MsgBlock
	if err := bb.Deserialize(bytes.NewReader(raw)); err == nil {
		t.Fatalf("btcd wire decoded MWEB block %s", hash)
	}
	var lb ltcwire.MsgBlock
	r := bytes.NewReader(raw)
	if err := lb.Deserialize(r); err != nil || r.Len() != 0 {
		t.Fatalf("ltcd wire, block %s: %v (%d bytes left)", hash, err, r.Len())
	}
	var verbose struct {
		Tx []string `json:"tx"`
	}
	n.Call("getblock", &verbose, hash, 1)
	if lb.BlockHash().String() != hash || len(lb.Transactions) != len(verbose.Tx) {
		t.Fatalf("ltcd block %s with %d txs, node %s with %d", lb.BlockHash(), len(lb.Transactions), hash, len(verbose.Tx))
	}
	for i, tx := range lb.Transactions {
		if tx.TxHash().String() != verbose.Tx[i] {
			t.Fatalf("tx %d: ltcd %s, node %s", i, tx.TxHash(), verbose.Tx[i])
		}
	}
	hogex := lb.Transactions[len(lb.Transactions)-1]
	if !hogex.IsHogEx || lb.MwebHeader == nil || lb.MwebTransactions == nil {
		t.Fatalf("block %s: last tx HogEx %v, MWEB header %v", hash, hogex.IsHogEx, lb.MwebHeader != nil)
	}
	rawHogEx := n.RawTransaction(hogex.TxHash().String(), hash)
	if rawHogEx[4] != 0 || rawHogEx[5] != FlagMWEB {
		t.Fatalf("HogEx marker/flag %#x %#x, want 0x00 0x08", rawHogEx[4], rawHogEx[5])
	}
	var hx btcwire.MsgTx
	if err := hx.Deserialize(bytes.NewReader(rawHogEx)); err == nil {
		t.Fatal("btcd wire decoded a HogEx")
	}
	return &lb
}

func hasTx(b *ltcwire.MsgBlock, txid string) bool {
	for _, tx := range b.Transactions {
		if tx.TxHash().String() == txid {
			return true
		}
	}
	return false
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}
