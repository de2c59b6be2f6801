package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/config"
)

// Litecoin's row of the spec table and its genesis blocks as litecoind
// reports them (coretest checks its constants against the node).
func TestLitecoinSpecAndGenesis(t *testing.T) {
	genesis := map[string]string{"mainnet": coretest.GenesisMainnet, "testnet": coretest.GenesisTestnet4, "regtest": coretest.GenesisRegtest}
	for _, n := range LitecoinFamily.Networks {
		if n.Params.GenesisHash.String() != genesis[n.Name] {
			t.Errorf("%s genesis %s, litecoind %s", n.Name, n.Params.GenesisHash, genesis[n.Name])
		}
	}
	if s, ok := chains.LTC.Spec(); !ok || s.Decimals != 8 || s.URIScheme != "litecoin" || s.URIAmountKey != "amount" || !s.DerivationIndexes {
		t.Errorf("ltc spec %+v", s)
	}
	if c, err := chains.ParseChain("Litecoin"); err != nil || c != chains.LTC {
		t.Errorf("ParseChain(Litecoin) = %q, %v", c, err)
	}
	if got := chains.Choices(); got != "btc, ltc or xmr" {
		t.Errorf("Choices() = %q", got)
	}
	if got := chains.LTC.FormatAmount(150_000_001); got != "1.50000001" {
		t.Errorf("FormatAmount = %s", got)
	}
}

// accountKey is the account key m/84'/2'/0' of a seed made from name, with
// the given version bytes (as a wallet exports it).
func accountKey(t testing.TB, name string, version []byte) string {
	t.Helper()
	seed := sha256.Sum256([]byte(name))
	k, err := hdkeychain.NewMaster(seed[:], &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint32{84, 2, 0} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	if version == nil {
		return pub.String()
	}
	v, err := pub.CloneWithVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	return v.String()
}

var (
	verXpub = []byte{0x04, 0x88, 0xb2, 0x1e}
	verZpub = []byte{0x04, 0xb2, 0x47, 0x46}
	verLtub = []byte{0x01, 0x9d, 0xa4, 0x62}
	verMtub = []byte{0x01, 0xb2, 0x6e, 0xf6}
	verTpub = []byte{0x04, 0x35, 0x87, 0xcf}
	verTtub = []byte{0x04, 0x36, 0xf6, 0xe1}
	verVpub = []byte{0x04, 0x5f, 0x1c, 0xf6}
	verLtpv = []byte{0x01, 0x9d, 0x9c, 0xfe}
)

// Keys of the wrong network class, private keys and a Litecoin-only
// version under [bitcoin] are refused, naming the setting.
func TestLitecoinKeysRefused(t *testing.T) {
	for _, c := range []struct {
		fam          *Family
		network, key string
		want         error
		text         string
	}{
		{&LitecoinFamily, "regtest", accountKey(t, "k", verLtub), ErrWrongNetwork,
			`a Ltub… key belongs to another network than litecoin.network = "regtest": set litecoin.network to the key's network, ` +
				"or use the wallet's test-network key (tpub, upub, vpub or ttub)"},
		{&LitecoinFamily, "mainnet", accountKey(t, "k", verTtub), ErrWrongNetwork, "use the wallet's mainnet key (xpub, ypub, zpub, Ltub or Mtub)"},
		{&LitecoinFamily, "mainnet", privateKey(t, verLtpv), ErrPrivateKey, "only extended PUBLIC keys"},
		{&BitcoinFamily, "mainnet", accountKey(t, "k", verLtub), ErrBadKey, "unknown version bytes 019da462"},
		{&LitecoinFamily, "signet", accountKey(t, "k", verTpub), nil, `unknown litecoin network "signet" (want mainnet, testnet or regtest)`},
	} {
		_, err := c.fam.NewDeriver(c.network, c.key, "")
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s %s %s…: %v, want %v containing %q", c.fam.Name, c.network, c.key[:4], err, c.want, c.text)
		}
		if err != nil && strings.Contains(err.Error(), c.key) {
			t.Errorf("the error echoes the key: %v", err)
		}
	}
	p := LitecoinFamily.CheckConfig(config.Bitcoin{Enabled: true, Network: "regtest", XPub: accountKey(t, "k", verLtub), Push: "auto"})
	if len(p) != 1 || p[0].Key != "litecoin.xpub" {
		t.Errorf("CheckConfig: %v", p)
	}
}

func privateKey(t testing.TB, version []byte) string {
	seed := sha256.Sum256([]byte("private"))
	k, err := hdkeychain.NewMaster(seed[:], &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.CloneWithVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	return v.String()
}

// Litecoin addresses: the legacy P2SH form (3…) is taken and given back as
// M…; MWEB addresses are refused with the reason; each chain names the
// other's addresses.
func TestLitecoinAddressValidation(t *testing.T) {
	d, err := LitecoinFamily.NewDeriver("mainnet", accountKey(t, "v", verMtub), "")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := d.Derive(0)
	// The same script hash with the legacy P2SH version byte 0x05 (3…).
	legacy := base58.CheckEncode(m.Script[2:22], 0x05)
	if !strings.HasPrefix(legacy, "3") || !strings.HasPrefix(m.Address, "M") {
		t.Fatalf("legacy form %s of %s", legacy, m.Address)
	}
	if got, err := CanonicalAddress(d.Params(), legacy); err != nil || got != m.Address {
		t.Errorf("CanonicalAddress(%s) = %s, %v; want %s", legacy, got, err, m.Address)
	}
	mweb := "ltcmweb1qq0dqzgl8l837du52nsegkjjz6fjg02nwxqf2gx47uznqmfs9y973yqal3z3uucamvgzjuxsnngkjrwjdya4kmjmux0r57a94jfdh3c0pyyrda205"
	if _, err := ValidateAddress(d.Params(), mweb); !errors.Is(err, ErrConfidential) || !strings.Contains(err.Error(), "canonical address") {
		t.Errorf("MWEB address: %v", err)
	}
	if _, err := ValidateAddress(d.Params(), "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"); !errors.Is(err, ErrWrongNetwork) ||
		!strings.Contains(err.Error(), "it is a Bitcoin mainnet address") {
		t.Errorf("a Bitcoin address on Litecoin: %v", err)
	}
	if _, err := ValidateAddress(&chaincfg.MainNetParams, m.Address); !errors.Is(err, ErrWrongNetwork) ||
		!strings.Contains(err.Error(), "it is a Litecoin mainnet address") {
		t.Errorf("a Litecoin address on Bitcoin: %v", err)
	}
	w, err := LitecoinFamily.NewDeriver("mainnet", accountKey(t, "v", verZpub), "")
	if err != nil {
		t.Fatal(err)
	}
	wa, _ := w.Address(0)
	if got, err := CanonicalAddress(w.Params(), strings.ToUpper(wa)); err != nil || got != wa {
		t.Errorf("upper-case bech32: %s, %v", got, err)
	}
	for _, bad := range []string{"", "ltc1qqqqqqq", strings.ToUpper(wa[:6]) + wa[6:], m.Address + "x", wa[:len(wa)-1] + "q"} {
		if _, err := ValidateAddress(d.Params(), bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Pre-MWEB blocks are Bitcoin's format: Litecoin's decoder gives the same
// block hash, txids, inputs and outputs as btcd's for real mainnet blocks.
func TestLitecoinDecoderOnBitcoinFormat(t *testing.T) {
	for _, f := range blockFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := BitcoinDecoder{}.DecodeBlock(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := LitecoinDecoder{}.DecodeBlock(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash != want.Hash || got.Prev != want.Prev || len(got.Txs) != len(want.Txs) {
			t.Fatalf("%s: block %s (%d txs), btcd %s (%d)", f, got.Hash, len(got.Txs), want.Hash, len(want.Txs))
		}
		for i := range want.Txs {
			g, w := got.Txs[i], want.Txs[i]
			if got.ID(i) != want.ID(i) || len(g.TxIn) != len(w.TxIn) || len(g.TxOut) != len(w.TxOut) {
				t.Fatalf("tx %d: %s, btcd %s", i, got.ID(i), want.ID(i))
			}
			for j, in := range w.TxIn {
				if g.TxIn[j].PreviousOutPoint != in.PreviousOutPoint {
					t.Fatalf("tx %d input %d: %v, btcd %v", i, j, g.TxIn[j].PreviousOutPoint, in.PreviousOutPoint)
				}
			}
			for j, out := range w.TxOut {
				if g.TxOut[j].Value != out.Value || !bytes.Equal(g.TxOut[j].PkScript, out.PkScript) {
					t.Fatalf("tx %d output %d differs", i, j)
				}
			}
		}
		var buf bytes.Buffer
		if err := want.Txs[1].Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		tx, err := LitecoinDecoder{}.DecodeTx(buf.Bytes())
		if err != nil || tx.ID != want.ID(1) {
			t.Fatalf("DecodeTx: %v, %v", tx.ID, err)
		}
		if _, err := (LitecoinDecoder{}).DecodeTx(append(buf.Bytes(), 0)); !errors.Is(err, ErrUndecodable) {
			t.Errorf("a trailing byte: %v", err)
		}
	}
}

// Whatever a node sends, the decoder answers an error or a transaction,
// never a panic.
func FuzzLitecoinDecodeTx(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 0, 9, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 0, 8, 0, 0, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := LitecoinDecoder{}.DecodeTx(raw)
		if err == nil && tx.Msg == nil {
			t.Fatal("no transaction and no error")
		}
		if _, err := (LitecoinDecoder{}).DecodeBlock(raw); err == nil && len(raw) < 80 {
			t.Fatal("a block shorter than its header decoded")
		}
	})
}
