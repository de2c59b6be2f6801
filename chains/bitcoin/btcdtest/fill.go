package btcdtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// FillOptions tunes FillMempool. Zero values take the defaults.
type FillOptions struct {
	Count int // transactions to put in the mempool

	// FeeRate is each transaction's fee in sat/vB. 0 (the default) pays
	// none: the nodes Start runs accept such transactions over RPC but
	// btcd's block template never includes them, so they stay in the
	// mempool while a test mines its own payments. With a fee of 1 sat/vB
	// or more every Generate mines about 6,800 of them (3 MWU blocks).
	FeeRate int64

	Value    int64  // amount of each transaction's one output (default 20,000 sat)
	FanOut   int    // outputs per fan-out transaction (default 2,500; btcd's standard weight allows about 3,200)
	Batch    int    // sendrawtransaction calls per HTTP POST (default 1,000)
	Parallel int    // POSTs in flight at once (default 2)
	Script   []byte // every transaction's output script (default: p2wpkh of a key nobody keeps)

	// Unsigned spends fan-out outputs paying a P2WSH of OP_TRUE: the
	// witness is the script alone, nothing to sign here nor to verify in
	// btcd, whose time goes to signature checks otherwise. To a watcher the
	// transactions look like any segwit spend.
	Unsigned bool
}

func (o *FillOptions) defaults() {
	if o.Value == 0 {
		o.Value = 20_000
	}
	if o.FanOut == 0 {
		o.FanOut = 2_500
	}
	if o.Batch == 0 {
		o.Batch = 1_000
	}
	if o.Parallel == 0 {
		o.Parallel = 2
	}
}

// Fill is a set of signed transactions for a node's mempool, each spending
// one output of a confirmed fan-out transaction of the node's wallet (one
// input, one output, no unconfirmed parent).
type Fill struct {
	Txids   []chainhash.Hash // in submission order
	Blocks  int              // blocks mined to confirm the fan-outs
	Prepare time.Duration    // fan-outs built, sent and mined; transactions signed
	Submit  time.Duration    // sendrawtransaction of all of them (zero until Send)

	n    *Node
	o    FillOptions
	raws [][]byte
}

// FillMempool puts o.Count unconfirmed transactions into the node's mempool
// (PrepareFill, then Send) and returns them.
func (n *Node) FillMempool(o FillOptions) *Fill {
	n.tb.Helper()
	f := n.PrepareFill(o)
	f.Send()
	return f
}

// fanFeeRate is the fee rate of the fan-out transactions (sat/vB): enough
// for btcd to mine them.
const fanFeeRate = 2

// spendWitnessVBytes bounds a p2wpkh input's witness in vbytes: marker and
// flag, item count, a signature of up to 72 bytes and a 33-byte key, each
// with its length (110 bytes), a quarter rounded up.
const spendWitnessVBytes = 28

// PrepareFill funds and signs o.Count transactions without sending them:
// from mature coinbases of the node's wallet (mining blocks when there are
// too few) it sends one transaction splitting them into one output per
// fan-out, and the fan-outs with o.FanOut outputs of o.Value each, mines
// them (Fill.Blocks blocks, which confirm whatever else in the mempool pays
// a fee), then signs one spend per output. Send submits them.
func (n *Node) PrepareFill(o FillOptions) *Fill {
	tb := n.tb
	tb.Helper()
	start := time.Now()
	o.defaults()
	if o.Count <= 0 {
		tb.Fatalf("fill: count %d", o.Count)
	}
	if o.Script == nil {
		o.Script = throwawayScript(tb)
	}
	spendFee := o.FeeRate * (int64(wire.NewTxOut(0, o.Script).SerializeSize()) + 41 + 10 + spendWitnessVBytes)
	if o.Value-spendFee < 1_000 {
		tb.Fatalf("fill: value %d sat leaves %d sat after the fee", o.Value, o.Value-spendFee)
	}
	w := n.Wallet

	// The fan-outs: sizes and the amount each needs (outputs and fee).
	var sizes []int
	for left := o.Count; left > 0; left -= o.FanOut {
		sizes = append(sizes, min(left, o.FanOut))
	}
	p2wpkhOut := int64(wire.NewTxOut(0, w.Script).SerializeSize())
	fanFee := func(k int) int64 { return fanFeeRate * (11 + 68 + p2wpkhOut*int64(k)) }
	var need int64
	for _, k := range sizes {
		need += int64(k)*o.Value + fanFee(k)
	}

	// The splitting transaction: coins in, one output per fan-out, change.
	var coins []coin
	var have int64
	splitFee := func() int64 { return fanFeeRate * (11 + 68*int64(len(coins)) + p2wpkhOut*int64(len(sizes)+1)) }
	for mined := 0; have < need+splitFee(); {
		c, ok := n.findCoin()
		if !ok {
			if mined > 1000 {
				tb.Fatalf("fill: %d sat needed, the wallet's coinbases hold %d after mining %d blocks", need, have, mined)
			}
			k := max(1, 101-n.Height())
			n.Generate(uint32(k))
			mined += int(k)
			continue
		}
		coins = append(coins, c)
		have += c.value
	}
	split := wire.NewMsgTx(2)
	for _, c := range coins {
		split.AddTxIn(wire.NewTxIn(&c.op, nil, nil))
	}
	for _, k := range sizes {
		split.AddTxOut(wire.NewTxOut(int64(k)*o.Value+fanFee(k), w.Script))
	}
	if change := have - need - splitFee(); change > 1_000 {
		split.AddTxOut(wire.NewTxOut(change, w.Script))
	}
	n.signInputs(split, coins)
	splitHash := split.TxHash()

	fanScript := w.Script
	if o.Unsigned {
		fanScript = opTrueP2WSH
	}
	fans := make([]*wire.MsgTx, len(sizes))
	pending := map[chainhash.Hash]bool{}
	for i, k := range sizes {
		c := coin{op: wire.OutPoint{Hash: splitHash, Index: uint32(i)}, value: split.TxOut[i].Value}
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(wire.NewTxIn(&c.op, nil, nil))
		for range k {
			tx.AddTxOut(wire.NewTxOut(o.Value, fanScript))
		}
		n.signInputs(tx, []coin{c})
		fans[i] = tx
		pending[tx.TxHash()] = true
	}
	pending[splitHash] = true
	n.sendRaw(append([]*wire.MsgTx{split}, fans...), 1, len(fans)+1)

	f := &Fill{n: n, o: o}
	for len(pending) > 0 {
		if f.Blocks > 50 {
			tb.Fatalf("fill: %d fan-out transactions still unmined after %d blocks", len(pending), f.Blocks)
		}
		for _, h := range n.Generate(1) {
			blk, err := n.RPC.GetBlock(h)
			if err != nil {
				tb.Fatalf("fill: getblock %s: %v", h, err)
			}
			for _, tx := range blk.Transactions {
				delete(pending, tx.TxHash())
			}
		}
		f.Blocks++
	}

	f.raws, f.Txids = n.signSpends(fans, o, spendFee)
	f.Prepare = time.Since(start)
	return f
}

// opTrue is a witness script anyone can satisfy; opTrueP2WSH pays to it.
var (
	opTrue      = []byte{txscript.OP_TRUE}
	opTrueP2WSH = func() []byte {
		h := sha256.Sum256(opTrue)
		return append([]byte{txscript.OP_0, txscript.OP_DATA_32}, h[:]...)
	}()
)

// throwawayScript is a p2wpkh script of a fresh key that is then dropped.
func throwawayScript(tb TB) []byte {
	tb.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), Params)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := txscript.PayToAddrScript(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// signSpends builds and signs one transaction per output of fans, on all
// cores, and returns them serialized with their txids, fan-out by fan-out.
func (n *Node) signSpends(fans []*wire.MsgTx, o FillOptions, fee int64) ([][]byte, []chainhash.Hash) {
	n.tb.Helper()
	w := n.Wallet
	pub := w.Key.PubKey().SerializeCompressed()
	offsets := make([]int, len(fans)+1)
	for i, fan := range fans {
		offsets[i+1] = offsets[i] + len(fan.TxOut)
	}
	raws := make([][]byte, offsets[len(fans)])
	ids := make([]chainhash.Hash, len(raws))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fetcher := txscript.NewCannedPrevOutputFetcher(w.Script, o.Value)
			for i := range jobs {
				hash := fans[i].TxHash()
				for j := range fans[i].TxOut {
					tx := wire.NewMsgTx(2)
					tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: hash, Index: uint32(j)}, nil, nil))
					tx.AddTxOut(wire.NewTxOut(o.Value-fee, o.Script))
					if o.Unsigned {
						tx.TxIn[0].Witness = wire.TxWitness{opTrue}
						k := offsets[i] + j
						raws[k] = serialize(tx, make([]byte, 0, tx.SerializeSize()))
						ids[k] = tx.TxHash()
						continue
					}
					sigs := txscript.NewTxSigHashes(tx, fetcher)
					// WitnessSignature would derive the public key again
					// for every signature: 40 % of the time.
					sig, err := txscript.RawTxInWitnessSignature(tx, sigs, 0, o.Value, w.Script, txscript.SigHashAll, w.Key)
					if err != nil {
						errOnce.Do(func() { firstErr = err })
						return
					}
					tx.TxIn[0].Witness = wire.TxWitness{sig, pub}
					k := offsets[i] + j
					buf := make([]byte, 0, tx.SerializeSize())
					raws[k] = serialize(tx, buf)
					ids[k] = tx.TxHash()
				}
			}
		}()
	}
	for i := range fans {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		n.tb.Fatalf("fill: sign: %v", firstErr)
	}
	return raws, ids
}

func serialize(tx *wire.MsgTx, buf []byte) []byte {
	w := &appendWriter{b: buf}
	_ = tx.Serialize(w) // writing to memory does not fail
	return w.b
}

type appendWriter struct{ b []byte }

func (a *appendWriter) Write(p []byte) (int, error) { a.b = append(a.b, p...); return len(p), nil }

// Send submits the fill's transactions in batched POSTs and fails the test
// unless the node accepted every one. It records the time in Submit. After
// RestartKeepChain (which empties the mempool) Send puts them back.
func (f *Fill) Send() {
	n := f.n
	n.tb.Helper()
	start := time.Now()
	n.sendRawBytes(f.raws, f.o.Parallel, f.o.Batch)
	f.Submit = time.Since(start)
}

// Rate is the submission rate in transactions per second.
func (f *Fill) Rate() float64 {
	if f.Submit <= 0 {
		return 0
	}
	return float64(len(f.Txids)) / f.Submit.Seconds()
}

// sendRaw submits txs in order, batch at a time on parallel connections.
func (n *Node) sendRaw(txs []*wire.MsgTx, parallel, batch int) {
	n.tb.Helper()
	raws := make([][]byte, len(txs))
	for i, tx := range txs {
		raws[i] = serialize(tx, nil)
	}
	n.sendRawBytes(raws, parallel, batch)
}

func (n *Node) sendRawBytes(raws [][]byte, parallel, batch int) {
	n.tb.Helper()
	type chunk struct{ from, to int }
	chunks := make(chan chunk)
	var mu sync.Mutex
	var failed int
	var firstErr error
	fail := func(k int, err error) {
		mu.Lock()
		defer mu.Unlock()
		failed += k
		if firstErr == nil {
			firstErr = err
		}
	}
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				params := make([][]any, 0, c.to-c.from)
				for _, raw := range raws[c.from:c.to] {
					params = append(params, []any{hex.EncodeToString(raw)})
				}
				replies, err := n.batch("sendrawtransaction", params)
				if err != nil {
					fail(c.to-c.from, err)
					continue
				}
				for i, r := range replies {
					if r.Error != nil {
						fail(1, fmt.Errorf("transaction %d: %w", c.from+i, r.Error))
					}
				}
			}
		}()
	}
	for from := 0; from < len(raws); from += batch {
		chunks <- chunk{from, min(from+batch, len(raws))}
	}
	close(chunks)
	wg.Wait()
	if firstErr != nil {
		n.tb.Fatalf("sendrawtransaction: %d of %d refused, first: %v", failed, len(raws), firstErr)
	}
}
