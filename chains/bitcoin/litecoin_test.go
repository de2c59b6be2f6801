package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	ltcchaincfg "github.com/ltcsuite/ltcd/chaincfg"
	"github.com/ltcsuite/ltcd/ltcutil"
	ltctxscript "github.com/ltcsuite/ltcd/txscript"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/config"
)

// ltcdParams pairs each Litecoin network with ltcd's parameters for it.
var ltcdParams = map[string]*ltcchaincfg.Params{
	"mainnet": &ltcchaincfg.MainNetParams, "testnet": &ltcchaincfg.TestNet4Params, "regtest": &ltcchaincfg.RegressionNetParams,
}

// Litecoin's parameters are what ltcd (an independent implementation)
// has, and the genesis hashes what litecoind reports (coretest checks them
// against the node).
func TestLitecoinParamsMatchLtcd(t *testing.T) {
	genesis := map[string]string{"mainnet": coretest.GenesisMainnet, "testnet": coretest.GenesisTestnet4, "regtest": coretest.GenesisRegtest}
	for _, n := range LitecoinFamily.Networks {
		p, l := n.Params, ltcdParams[n.Name]
		if l == nil {
			t.Fatalf("no ltcd params for %s", n.Name)
		}
		if p.GenesisHash.String() != l.GenesisHash.String() || p.GenesisHash.String() != genesis[n.Name] {
			t.Errorf("%s genesis %s, ltcd %s, litecoind %s", n.Name, p.GenesisHash, l.GenesisHash, genesis[n.Name])
		}
		if p.PubKeyHashAddrID != l.PubKeyHashAddrID || p.ScriptHashAddrID != l.ScriptHashAddrID || p.PrivateKeyID != l.PrivateKeyID ||
			p.Bech32HRPSegwit != l.Bech32HRPSegwit || p.HDPublicKeyID != l.HDPublicKeyID || p.HDPrivateKeyID != l.HDPrivateKeyID ||
			p.HDCoinType != l.HDCoinType || p.TargetTimePerBlock != l.TargetTimePerBlock || uint32(p.Net) != uint32(l.Net) {
			t.Errorf("%s: params differ from ltcd's: %+v", n.Name, p)
		}
		if n.ConfidentialHRP != l.Bech32HRPMweb {
			t.Errorf("%s MWEB HRP %q, ltcd %q", n.Name, n.ConfidentialHRP, l.Bech32HRPMweb)
		}
	}
	if s, ok := chains.LTC.Spec(); !ok || s.Decimals != 8 || s.URIScheme != "litecoin" || !s.DerivationIndexes {
		t.Errorf("ltc spec %+v", s)
	}
	if c, err := chains.ParseChain("Litecoin"); err != nil || c != chains.LTC {
		t.Errorf("ParseChain(Litecoin) = %q, %v", c, err)
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

// Every key form Litecoin wallets export derives, on each network, the
// addresses ltcd's libraries give for the same scripts (L…/M…/ltc1…,
// m…/Q…/tltc1…, rltc1…), with the default type of its prefix.
func TestLitecoinAddressesMatchLtcutil(t *testing.T) {
	cases := []struct {
		network string
		version []byte
		typ     AddressType // the prefix's default
	}{
		{"mainnet", verXpub, P2PKH}, {"mainnet", verLtub, P2PKH}, {"mainnet", verMtub, P2SHP2WPKH}, {"mainnet", verZpub, P2WPKH},
		{"testnet", verTpub, P2PKH}, {"testnet", verTtub, P2PKH}, {"testnet", verVpub, P2WPKH},
		{"regtest", verTpub, P2PKH}, {"regtest", verTtub, P2PKH},
	}
	prefixes := map[string]map[AddressType]string{
		"mainnet": {P2PKH: "L", P2SHP2WPKH: "M", P2WPKH: "ltc1q", P2TR: "ltc1p"},
		"testnet": {P2PKH: "", P2SHP2WPKH: "Q", P2WPKH: "tltc1q", P2TR: "tltc1p"},
		"regtest": {P2PKH: "", P2SHP2WPKH: "Q", P2WPKH: "rltc1q", P2TR: "rltc1p"},
	}
	for _, c := range cases {
		key := accountKey(t, "litecoin keys", c.version)
		d, err := LitecoinFamily.NewDeriver(c.network, key, "")
		if err != nil {
			t.Fatalf("%s %s…: %v", c.network, key[:4], err)
		}
		if d.Type() != c.typ {
			t.Errorf("%s %s…: type %s, want %s", c.network, key[:4], d.Type(), c.typ)
		}
		for _, typ := range []AddressType{P2PKH, P2SHP2WPKH, P2WPKH, P2TR} {
			d, err := LitecoinFamily.NewDeriver(c.network, key, string(typ))
			if err != nil {
				t.Fatal(err)
			}
			for i := uint32(0); i < 5; i++ {
				got, err := d.Derive(i)
				if err != nil {
					t.Fatal(err)
				}
				la, err := ltcutil.DecodeAddress(got.Address, ltcdParams[c.network])
				if err != nil || !la.IsForNet(ltcdParams[c.network]) {
					t.Fatalf("%s %s %s index %d: ltcutil does not take %s: %v", c.network, key[:4], typ, i, got.Address, err)
				}
				script, err := ltctxscript.PayToAddrScript(la)
				if err != nil || !bytes.Equal(script, got.Script) || la.EncodeAddress() != got.Address {
					t.Fatalf("%s %s %s index %d: %s %x, ltcutil %s %x", c.network, key[:4], typ, i, got.Address, got.Script, la.EncodeAddress(), script)
				}
				if p := prefixes[c.network][typ]; !strings.HasPrefix(got.Address, p) {
					t.Errorf("%s %s address %s does not start with %s", c.network, typ, got.Address, p)
				}
				if s, err := ValidateAddress(d.Params(), got.Address); err != nil || !bytes.Equal(s, got.Script) {
					t.Errorf("ValidateAddress(%s) = %x, %v", got.Address, s, err)
				}
				if ScriptAddress(d.Params(), got.Script) != got.Address {
					t.Errorf("ScriptAddress(%x) = %s, want %s", got.Script, ScriptAddress(d.Params(), got.Script), got.Address)
				}
			}
		}
	}
}

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
	la, err := ltcutil.DecodeAddress(m.Address, &ltcchaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := ltcutil.NewAddressScriptHashFromHash(la.ScriptAddress(), &ltcchaincfg.Params{ScriptHashAddrID: 0x05})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(legacy.EncodeAddress(), "3") {
		t.Fatalf("legacy form %s", legacy.EncodeAddress())
	}
	if got, err := CanonicalAddress(d.Params(), legacy.EncodeAddress()); err != nil || got != m.Address {
		t.Errorf("CanonicalAddress(%s) = %s, %v; want %s", legacy.EncodeAddress(), got, err, m.Address)
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
