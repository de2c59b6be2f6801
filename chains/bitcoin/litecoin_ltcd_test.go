//go:build cgo

// The cross-checks against ltcd (an independent Litecoin implementation)
// need cgo: ltcd's wire, which its chaincfg and ltcutil import, links
// libsecp256k1-zkp. ipnd itself does not import ltcd (its binary is
// cgo-free); the Litecoin tests that run without cgo check the same
// encodings against litecoind (TestDescriptorsMatchLitecoind,
// TestLitecoinCore).

package bitcoin

import (
	"bytes"
	"strings"
	"testing"

	ltcchaincfg "github.com/ltcsuite/ltcd/chaincfg"
	"github.com/ltcsuite/ltcd/ltcutil"
	ltctxscript "github.com/ltcsuite/ltcd/txscript"

	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
)

// ltcdParams pairs each Litecoin network with ltcd's parameters for it.
var ltcdParams = map[string]*ltcchaincfg.Params{
	"mainnet": &ltcchaincfg.MainNetParams, "testnet": &ltcchaincfg.TestNet4Params, "regtest": &ltcchaincfg.RegressionNetParams,
}

// Litecoin's parameters are what ltcd has, and the genesis hashes what
// litecoind reports (coretest checks them against the node).
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
}

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
