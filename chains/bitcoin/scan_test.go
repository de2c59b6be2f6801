package bitcoin

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/internal/testenv"
)

// blockFiles lists the two real mainnet blocks that ship in the btcd module
// already in go.mod (wire/testdata/block-*.blk), or those of
// $IPND_BTC_BLOCKS; they are read by path, never copied into the repo.
func blockFiles(tb testing.TB) []string {
	tb.Helper()
	dir := os.Getenv("IPND_BTC_BLOCKS")
	if dir == "" {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/btcsuite/btcd").Output()
		if err != nil {
			testenv.Unavailable(tb, "locating the btcd module (go list -m github.com/btcsuite/btcd): %v", err)
		}
		dir = filepath.Join(strings.TrimSpace(string(out)), "wire", "testdata")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "block-*.blk"))
	if len(files) == 0 {
		testenv.Unavailable(tb, "no mainnet blocks in %s (the btcd module's wire/testdata, or IPND_BTC_BLOCKS)", dir)
	}
	return files
}

func hashFromName(path string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "block-"), ".blk")
}

// Transactions and outputs per block as the data README lists them.
var blockCounts = map[string][2]int{
	"0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2": {3315, 8150},
	"00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab": {230, 472},
}

func TestDecodeMainnetBlocks(t *testing.T) {
	for _, f := range blockFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := btcdDecodeBlock(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got, want := b.BlockHash().String(), hashFromName(f); got != want {
			t.Errorf("%s: block hash %s", f, got)
		}
		if c, ok := blockCounts[hashFromName(f)]; ok {
			outs := 0
			for _, tx := range b.Transactions {
				outs += len(tx.TxOut)
			}
			if len(b.Transactions) != c[0] || outs != c[1] {
				t.Errorf("%s: %d transactions, %d outputs; want %d, %d", f, len(b.Transactions), outs, c[0], c[1])
			}
		}
		if _, err := btcdDecodeBlock(raw[:len(raw)-1]); err == nil {
			t.Errorf("%s: truncated block decoded", f)
		}
		if _, err := btcdDecodeBlock(append(bytes.Clone(raw), 0)); err == nil {
			t.Errorf("%s: block with a trailing byte decoded", f)
		}
	}
}

func TestWatchSet(t *testing.T) {
	ws := NewWatchSet(0)
	p2wpkh := append([]byte{0x00, 0x14}, bytes.Repeat([]byte{7}, 20)...)
	if err := ws.Add(p2wpkh, WatchEntry{Index: 5, Derived: true}); err != nil {
		t.Fatal(err)
	}
	if e, ok := ws.Lookup(p2wpkh); !ok || e != (WatchEntry{Index: 5, Derived: true}) {
		t.Fatalf("lookup = %+v %v", e, ok)
	}
	// A longer script that starts with the watched one and ends in a zero
	// byte is another script.
	if _, ok := ws.Lookup(append(bytes.Clone(p2wpkh), 0)); ok {
		t.Fatal("script with a trailing zero byte matched")
	}
	if _, ok := ws.Lookup(p2wpkh[:21]); ok {
		t.Fatal("prefix matched")
	}
	// A plain (subscribed) entry does not replace a derived one.
	_ = ws.Add(p2wpkh, WatchEntry{})
	if e, _ := ws.Lookup(p2wpkh); !e.Derived || e.Index != 5 {
		t.Fatalf("derived entry replaced: %+v", e)
	}
	if err := ws.Add(make([]byte, MaxWatchScript+1), WatchEntry{}); err == nil {
		t.Fatal("overlong script accepted")
	}
	if err := ws.Add(nil, WatchEntry{}); err == nil {
		t.Fatal("empty script accepted")
	}
	if ws.Len() != 1 {
		t.Fatalf("len %d", ws.Len())
	}
}

func TestScanRealBlock(t *testing.T) {
	for _, f := range blockFiles(t) {
		raw, _ := os.ReadFile(f)
		b, err := btcdDecodeBlock(raw)
		if err != nil {
			t.Fatal(err)
		}
		ws := NewWatchSet(0)
		// Watch the scripts of a few outputs spread through the block.
		want := map[string]bool{}
		for i := 0; i < len(b.Transactions); i += len(b.Transactions)/7 + 1 {
			tx := b.Transactions[i]
			out := tx.TxOut[len(tx.TxOut)-1]
			if len(out.PkScript) == 0 || len(out.PkScript) > MaxWatchScript {
				continue
			}
			if err := ws.Add(out.PkScript, WatchEntry{Index: uint32(i)}); err != nil {
				t.Fatal(err)
			}
		}
		// Every output of the block paying a watched script must be found,
		// with its amount, and nothing else.
		for _, tx := range b.Transactions {
			for vout, out := range tx.TxOut {
				if _, ok := ws.Lookup(out.PkScript); ok {
					want[fmt.Sprintf("%s:%d:%d", tx.TxHash(), vout, out.Value)] = true
				}
			}
		}
		got, bad := ws.ScanTxs(nil, nil, b.Transactions, nil, btcMain)
		if len(bad) != 0 {
			t.Fatalf("%s: out-of-range values %+v in a mainnet block", f, bad)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s: %d matches, want %d", f, len(got), len(want))
		}
		for _, m := range got {
			k := fmt.Sprintf("%s:%d:%d", m.TxID, m.Vout, m.Amount)
			if !want[k] {
				t.Errorf("unexpected match %+v", m)
			}
			if m.Address == "" && (m.Script[0] == 0x00 || m.Script[0] == 0x51 || m.Script[0] == 0xa9 || m.Script[0] == 0x76) {
				t.Errorf("no address for standard script %x", m.Script)
			}
		}
		blk, err := BitcoinDecoder{}.DecodeBlock(raw)
		if err != nil {
			t.Fatal(err)
		}
		m2, _ := ws.ScanTxs(nil, nil, blk.Txs, blk.ID, btcMain)
		if blk.Hash.String() != hashFromName(f) || len(m2) != len(got) {
			t.Errorf("decoded and scanned: %s %d matches", blk.Hash, len(m2))
		}
	}
}

// A transaction paying derived addresses of every type is matched with the
// derivation index and the address string.
func TestScanTxDerived(t *testing.T) {
	ws := NewWatchSet(0)
	tx := wire.NewMsgTx(2)
	want := map[uint32]string{}
	for i, typ := range []string{"p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2tr"} {
		d, err := NewDeriver("mainnet", bip44XPub, typ)
		if err != nil {
			t.Fatal(err)
		}
		a, err := d.Derive(uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.Add(a.Script, WatchEntry{Index: a.Index, Derived: true}); err != nil {
			t.Fatal(err)
		}
		tx.AddTxOut(wire.NewTxOut(int64(1000+i), a.Script))
		want[uint32(i)] = a.Address
	}
	tx.AddTxOut(wire.NewTxOut(5, []byte{0x6a, 0x01, 0x02})) // OP_RETURN, not ours
	ms, _ := ws.ScanTxs(nil, nil, []*wire.MsgTx{tx}, nil, btcMain)
	if len(ms) != 4 {
		t.Fatalf("%d matches", len(ms))
	}
	for _, m := range ms {
		if m.TxID != tx.TxHash().String() || m.Amount != uint64(1000+m.Vout) || m.Entry.Index != m.Vout ||
			m.Address != want[m.Vout] {
			t.Errorf("match %+v", m)
		}
	}
}

var btcMain = ScanParams{Net: &chaincfg.MainNetParams, MaxMoney: BitcoinFamily.MaxMoney}

// An output value above the family's money limit (or negative) is skipped
// and reported, whatever the script: each family has its own limit
// (Litecoin's 84 million coins is four times Bitcoin's 21 million).
func TestScanMaxMoneyPerFamily(t *testing.T) {
	const coin = 100_000_000
	if BitcoinFamily.MaxMoney != 21_000_000*coin || LitecoinFamily.MaxMoney != 84_000_000*coin {
		t.Fatalf("MaxMoney: Bitcoin %d, Litecoin %d", BitcoinFamily.MaxMoney, LitecoinFamily.MaxMoney)
	}
	script := append([]byte{0x00, 0x14}, bytes.Repeat([]byte{7}, 20)...)
	ws := NewWatchSet(0)
	if err := ws.Add(script, WatchEntry{}); err != nil {
		t.Fatal(err)
	}
	values := []int64{-1, 1, 21_000_000 * coin, 21_000_000*coin + 1, 50_000_000 * coin, 84_000_000 * coin, 84_000_000*coin + 1, math.MaxInt64}
	tx := wire.NewMsgTx(2)
	for _, v := range values {
		tx.AddTxOut(wire.NewTxOut(v, script))
	}
	for _, c := range []struct {
		fam  *Family
		want []int64 // matched values; the others are bad
	}{
		{&BitcoinFamily, []int64{1, 21_000_000 * coin}},
		{&LitecoinFamily, []int64{1, 21_000_000 * coin, 21_000_000*coin + 1, 50_000_000 * coin, 84_000_000 * coin}},
	} {
		ms, bad := ws.ScanTxs(nil, nil, []*wire.MsgTx{tx}, nil, ScanParams{Net: c.fam.Networks[0].Params, MaxMoney: c.fam.MaxMoney})
		var got []int64
		for _, m := range ms {
			got = append(got, int64(m.Amount))
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: matched %v, want %v", c.fam.Name, got, c.want)
		}
		if len(bad)+len(ms) != len(values) {
			t.Errorf("%s: %d bad + %d matched of %d outputs", c.fam.Name, len(bad), len(ms), len(values))
		}
		for _, b := range bad {
			if b.TxID != tx.TxHash().String() || values[b.Vout] != b.Value || (b.Value >= 0 && b.Value <= c.fam.MaxMoney) {
				t.Errorf("%s: bad %+v", c.fam.Name, b)
			}
		}
	}
}

func fillWatchSet(n int) *WatchSet {
	ws := NewWatchSet(0)
	var s [22]byte
	s[1] = 0x14
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint64(s[2:], uint64(i)*0x9e3779b97f4a7c15+1)
		binary.BigEndian.PutUint64(s[10:], uint64(i))
		_ = ws.Add(s[:], WatchEntry{Index: uint32(i), Derived: true})
	}
	return ws
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// watchSetBytes measures the heap held by a watch set of n scripts.
func watchSetBytes(n int) (uint64, *WatchSet) {
	before := heapAfterGC()
	ws := fillWatchSet(n)
	after := heapAfterGC()
	if after < before {
		return 0, ws
	}
	return after - before, ws
}

// The watch set stays within the memory budget: 150 bytes per script
// (1,000,000 scripts <= 150 MB).
func TestWatchSetMemoryBudget(t *testing.T) {
	const n = 300_000
	bytes, ws := watchSetBytes(n)
	if ws.Len() != n {
		t.Fatalf("len %d", ws.Len())
	}
	if per := float64(bytes) / n; per > 150 {
		t.Errorf("%.0f bytes per watched script, budget 150", per)
	}
	runtime.KeepAlive(ws)
}

func BenchmarkWatchSetMemory1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		bytes, ws := watchSetBytes(1_000_000)
		b.ReportMetric(float64(bytes)/1e6, "MB/1M-scripts")
		runtime.KeepAlive(ws)
	}
}

// sourceScan is what the block source does with a block's bytes, less the
// RPC: decode with the family's decoder, match the outputs, check every
// input against the coins of watched unconfirmed transactions.
func sourceScan(ws *WatchSet, spends *spendWatch, raw []byte) ([]Match, error) {
	blk, err := BitcoinDecoder{}.DecodeBlock(raw)
	if err != nil {
		return nil, err
	}
	ms, _ := ws.ScanTxs(nil, nil, blk.Txs, blk.ID, btcMain)
	var fs []finding
	for i, tx := range blk.Txs {
		fs = spends.check(tx, func() chainhash.Hash { return blk.ID(i) }, true, fs)
	}
	return ms, nil
}

// BenchmarkScanBlock compares scanning a mainnet block as the block source
// does (decode, match against a million watched scripts, check the inputs
// against 100 watched unconfirmed transactions' coins) with btcd's bare
// deserialisation: "ratio" should stay at or below 1.3. "ratio-own-decode"
// compares it with the block source's decoder alone.
func BenchmarkScanBlock(b *testing.B) {
	files := blockFiles(b)
	ws := fillWatchSet(1_000_000)
	spends := newSpendWatch()
	for i := range 100 {
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.DoubleHashH([]byte{byte(i)}), Index: uint32(i)}, nil, nil))
		spends.add(tx.TxHash(), tx, 0)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		blk, _ := btcdDecodeBlock(raw)
		// Also watch a few of the block's own outputs so matches happen.
		for i := 0; i < len(blk.Transactions); i += 97 {
			_ = ws.Add(blk.Transactions[i].TxOut[0].PkScript, WatchEntry{})
		}
		b.Run(hashFromName(f)[48:], func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			var dec, own, scan time.Duration
			matches := 0
			for i := 0; i < b.N; i++ {
				// Rotate the order so that GC work left by one part does
				// not always land on the same next one.
				for j := 0; j < 3; j++ {
					t0 := time.Now()
					switch (i + j) % 3 {
					case 0:
						var m wire.MsgBlock
						if err := m.Deserialize(bytes.NewReader(raw)); err != nil {
							b.Fatal(err)
						}
						dec += time.Since(t0)
					case 1:
						if _, err := decodeBitcoinBlock(raw); err != nil {
							b.Fatal(err)
						}
						own += time.Since(t0)
					default:
						ms, err := sourceScan(ws, spends, raw)
						if err != nil {
							b.Fatal(err)
						}
						scan += time.Since(t0)
						matches = len(ms)
					}
				}
			}
			b.ReportMetric(float64(scan.Nanoseconds())/float64(b.N), "scan-ns/block")
			b.ReportMetric(float64(dec.Nanoseconds())/float64(b.N), "deserialize-ns/block")
			b.ReportMetric(float64(scan)/float64(dec), "ratio")
			// The scan against the block source's own decoding alone: what
			// matching and the spend checks add.
			b.ReportMetric(float64(scan)/float64(own), "ratio-own-decode")
			b.ReportMetric(float64(matches), "matches")
		})
	}
}

// btcdDecodeBlock decodes a block with btcd's wire package, the reference
// the tests compare with, and checks that it is whole.
func btcdDecodeBlock(raw []byte) (*wire.MsgBlock, error) {
	var b wire.MsgBlock
	r := bytes.NewReader(raw)
	if err := b.Deserialize(r); err != nil {
		return nil, fmt.Errorf("block %w: %w", ErrUndecodable, err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("block %w: %d trailing bytes", ErrUndecodable, r.Len())
	}
	return &b, nil
}
