package coretest

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	btcwire "github.com/btcsuite/btcd/wire"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// node is the package's shared node (cookie auth, no txindex), with mature
// coins.
func node(t *testing.T) *Node {
	t.Helper()
	n := Shared(t, Options{Auth: AuthCookie})
	if n.Height() < 101 {
		n.Fund()
	}
	return n
}

// litecoinRegtest encodes addresses like Litecoin Core's regtest (bech32
// HRP rltc; extended keys tpub like Bitcoin's testnets).
var litecoinRegtest = func() *chaincfg.Params {
	p := chaincfg.RegressionNetParams
	p.Bech32HRPSegwit = "rltc"
	return &p
}()

func TestAmounts(t *testing.T) {
	for _, c := range []struct {
		atomic int64
		text   string
	}{{0, "0.00000000"}, {1, "0.00000001"}, {123456789, "1.23456789"}, {-5, "-0.00000005"}, {50 * coin, "50.00000000"}} {
		if got := FormatAmount(c.atomic); got != c.text {
			t.Errorf("FormatAmount(%d) = %q, want %q", c.atomic, got, c.text)
		}
		if got, err := ParseAmount(c.text); err != nil || got != c.atomic {
			t.Errorf("ParseAmount(%q) = %d, %v", c.text, got, err)
		}
	}
	for in, want := range map[string]int64{"50": 50 * coin, "0.001": 100_000, "1e-08": 1, "21000000": 21_000_000 * coin} {
		if got, err := ParseAmount(in); err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", "1.000000001", "1,5", "abc", "92233720369", "92233720368.54775808"} {
		if v, err := ParseAmount(bad); err == nil {
			t.Errorf("ParseAmount(%q) = %d, want an error", bad, v)
		}
	}
}

// The node reports chain "regtest" like bitcoind, with Litecoin's genesis;
// it pays and mines; without -txindex a confirmed transaction is found only
// with its block hash; invalidateblock returns it to the mempool.
func TestPayMineReorg(t *testing.T) {
	n := node(t)
	var info struct {
		Chain  string `json:"chain"`
		Pruned bool   `json:"pruned"`
	}
	n.Call("getblockchaininfo", &info)
	if info.Chain != "regtest" || info.Pruned {
		t.Fatalf("getblockchaininfo: %+v", info)
	}
	if g := n.BlockHash(0); g != GenesisRegtest {
		t.Fatalf("genesis %s, want %s", g, GenesisRegtest)
	}

	addr := n.NewAddress("bech32")
	if !strings.HasPrefix(addr, "rltc1") {
		t.Fatalf("bech32 address %q", addr)
	}
	const amount = 12_345_678
	txid := n.SendToAddress(addr, amount)
	n.WaitMempool(txid, true)
	if tx := decodeBTCTx(t, n.RawTransaction(txid, "")); tx.TxHash().String() != txid || !paysAmount(tx, amount) {
		t.Fatalf("mempool tx %s does not pay %d", txid, amount)
	}

	hash := n.Generate(1)[0]
	n.WaitMempool(txid, false)
	if tx := decodeBTCTx(t, n.RawTransaction(txid, hash)); tx.TxHash().String() != txid {
		t.Fatal("confirmed tx not found in its block")
	}
	err := n.RPC.Call(context.Background(), "getrawtransaction", nil, txid, false)
	if !IsRPCError(err, ErrCodeInvalidAddress) {
		t.Fatalf("getrawtransaction of a confirmed tx without txindex: %v, want code %d", err, ErrCodeInvalidAddress)
	}

	height := n.Height()
	n.InvalidateBlock(hash)
	n.WaitMempool(txid, true)
	if n.Height() != height-1 {
		t.Fatalf("height %d after invalidateblock, want %d", n.Height(), height-1)
	}
	n.ReconsiderBlock(hash)
	if n.BestHash() != hash {
		t.Fatal("reconsiderblock did not restore the block")
	}
	n.WaitMempool(txid, false)
}

func decodeBTCTx(t *testing.T, raw []byte) *btcwire.MsgTx {
	t.Helper()
	var tx btcwire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatalf("btcd wire: %v", err)
	}
	return &tx
}

func paysAmount(tx *btcwire.MsgTx, amount int64) bool {
	for _, o := range tx.TxOut {
		if o.Value == amount {
			return true
		}
	}
	return false
}

// deriveaddresses answers in Litecoin's encodings what btcd's libraries
// derive with Litecoin's regtest HRP.
func TestDeriveAddresses(t *testing.T) {
	n := Shared(t, Options{Auth: AuthCookie})
	seed := bytes.Repeat([]byte{7}, 32)
	master, err := hdkeychain.NewMaster(seed, litecoinRegtest)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := master.Neuter()
	got := n.DeriveAddresses("wpkh("+acct.String()+"/0/*)", 0, 2)
	if len(got) != 3 {
		t.Fatalf("deriveaddresses: %v", got)
	}
	ext, _ := acct.Derive(0)
	for i, a := range got {
		k, _ := ext.Derive(uint32(i))
		pk, _ := k.ECPubKey()
		want, _ := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pk.SerializeCompressed()), litecoinRegtest)
		if a != want.EncodeAddress() {
			t.Errorf("index %d: node %s, btcutil %s", i, a, want.EncodeAddress())
		}
	}
	_, pub := btcec.PrivKeyFromBytes(seed)
	single := n.DeriveAddresses("wpkh("+hex.EncodeToString(pub.SerializeCompressed())+")", 0, 0)
	want, _ := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), litecoinRegtest)
	if len(single) != 1 || single[0] != want.EncodeAddress() {
		t.Fatalf("unranged deriveaddresses %v, want %s", single, want.EncodeAddress())
	}
}

// A restart keeps the chain and the wallet, and writes a new cookie: the
// old one is refused.
func TestRestartNewCookie(t *testing.T) {
	n := node(t)
	user, oldPass := n.Cookie()
	height := n.Height()
	took := n.Restart()
	t.Logf("stop took %v", took)
	if _, pass := n.Cookie(); pass == oldPass {
		t.Fatal("cookie unchanged by restart")
	}
	if n.Height() != height {
		t.Fatalf("height %d after restart, want %d", n.Height(), height)
	}
	if n.Balance() <= 0 {
		t.Fatal("wallet not loaded (or empty) after restart")
	}
	stale := &Client{URL: n.RPC.URL, User: user, Pass: oldPass}
	if err := stale.Call(context.Background(), "getblockcount", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("old cookie: %v, want HTTP 401", err)
	}
}

// A SIGSTOPped node accepts connections and answers nothing; SIGCONT
// brings it back.
func TestPauseResume(t *testing.T) {
	n := Shared(t, Options{Auth: AuthCookie})
	n.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := n.RPC.Call(ctx, "getblockcount", nil)
	cancel()
	n.Resume()
	if err == nil {
		t.Fatal("a paused node answered")
	}
	n.Height()
}

// Two more nodes, one with user/password auth and -txindex, one with
// -prune=550 (the node refuses both together), sync from the shared node;
// the first splits off and follows the longer branch when reconnected;
// litecoin-cli talks to it; stop ends the process.
func TestOptionsAndTwoNodes(t *testing.T) {
	a := node(t)
	b := Start(t, Options{Auth: AuthPassword, TxIndex: true})
	c := Start(t, Options{Auth: AuthCookie, Prune: true})
	var indexes map[string]any
	b.Call("getindexinfo", &indexes)
	var info struct {
		Pruned bool `json:"pruned"`
	}
	c.Call("getblockchaininfo", &info)
	if _, ok := indexes["txindex"]; !ok || !info.Pruned {
		t.Fatalf("b's indexes %v, c pruned %v", indexes, info.Pruned)
	}
	if out, err := b.CLI("getblockcount"); err != nil || out != "0" {
		t.Fatalf("litecoin-cli getblockcount: %q, %v", out, err)
	}
	c.Connect(a)
	c.Disconnect(a)

	b.Connect(a)
	b.Disconnect(a)
	b.Generate(1)
	top := a.Generate(2)[1]
	b.Connect(a)
	if b.BestHash() != top {
		t.Fatalf("b did not reorg to a's longer branch")
	}
	b.Disconnect(a)

	pid := b.PID()
	t.Logf("stop took %v", b.Stop())
	if b.PID() != 0 || processAlive(pid) {
		t.Fatal("litecoind still running after Stop")
	}
}

func processAlive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
