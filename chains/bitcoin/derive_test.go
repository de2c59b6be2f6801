package bitcoin

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"

	"github.com/ipnd/ipnd/config"
)

// Account keys and addresses of the mnemonic "abandon abandon abandon
// abandon abandon abandon abandon abandon abandon abandon abandon about" as
// published in BIP44 (SLIP-132's m/44'/0'/0' key), BIP49, BIP84 and BIP86.
const (
	bip44XPub = "xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJVVhhawA7d4R5WSWGFNbi8Aw6ZRc1brxMyWMzG3DSSSSoekkudhUd9yLb6qx39T9nMdj"
	bip49YPub = "ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP"
	bip49UPub = "upub5EFU65HtV5TeiSHmZZm7FUffBGy8UKeqp7vw43jYbvZPpoVsgU93oac7Wk3u6moKegAEWtGNF8DehrnHtv21XXEMYRUocHqguyjknFHYfgY"
	bip49UPrv = "uprv91G7gZkzehuMVxDJTYE6tLivdF8e4rvzSu1LFfKw3b2Qx1Aj8vpoFnHdfUZ3hmi9jsvPifmZ24RTN2KhwB8BfMLTVqaBReibyaFFcTP1s9n"
	bip84ZPub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
	bip84ZPrv = "zprvAdG4iTXWBoARxkkzNpNh8r6Qag3irQB8PzEMkAFeTRXxHpbF9z4QgEvBRmfvqWvGp42t42nvgGpNgYSJA9iefm1yYNZKEm7z6qUWCroSQnE"
	bip86XPub = "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ"
)

func TestPublishedVectors(t *testing.T) {
	cases := []struct {
		name, network, key, typ string
		index                   uint32
		address, script         string
		wantType                AddressType
	}{
		{"BIP44 m/44'/0'/0'/0/0", "mainnet", bip44XPub, "", 0, "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA", "", P2PKH},
		{"BIP49 mainnet m/49'/0'/0'/0/0", "mainnet", bip49YPub, "", 0, "37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf", "", P2SHP2WPKH},
		// BIP49's own example: testnet m/49'/1'/0'/0/0, scriptPubKey = OP_HASH160 336caa13… OP_EQUAL.
		{"BIP49 testnet m/49'/1'/0'/0/0", "testnet", bip49UPub, "", 0, "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2",
			"a914336caa13e08b96080a32b5d818d59b4ab3b3674287", P2SHP2WPKH},
		{"BIP84 m/84'/0'/0'/0/0", "mainnet", bip84ZPub, "", 0, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "", P2WPKH},
		{"BIP84 m/84'/0'/0'/0/1", "mainnet", bip84ZPub, "", 1, "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g", "", P2WPKH},
		{"BIP86 m/86'/0'/0'/0/0", "mainnet", bip86XPub, "p2tr", 0, "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",
			"5120a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c", P2TR},
		{"BIP86 m/86'/0'/0'/0/1", "mainnet", bip86XPub, "p2tr", 1, "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh",
			"5120a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb", P2TR},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDeriver(c.network, c.key, c.typ)
			if err != nil {
				t.Fatal(err)
			}
			if d.Type() != c.wantType {
				t.Errorf("type %s, want %s", d.Type(), c.wantType)
			}
			got, err := d.Derive(c.index)
			if err != nil {
				t.Fatal(err)
			}
			if got.Address != c.address {
				t.Errorf("address %s, want %s", got.Address, c.address)
			}
			if c.script != "" && hex.EncodeToString(got.Script) != c.script {
				t.Errorf("script %x, want %s", got.Script, c.script)
			}
			// The script must be the address's scriptPubKey.
			s, err := ValidateAddress(d.Params(), got.Address)
			if err != nil || hex.EncodeToString(s) != hex.EncodeToString(got.Script) {
				t.Errorf("ValidateAddress(%s) = %x, %v; derived script %x", got.Address, s, err, got.Script)
			}
			if ScriptAddress(d.Params(), got.Script) != got.Address {
				t.Errorf("ScriptAddress = %q, want %s", ScriptAddress(d.Params(), got.Script), got.Address)
			}
		})
	}
}

// BIP84 publishes the account private key and the public key of the first
// receive address: the zpub above is the neutered zprv, and index 0's key is
// the published one.
func TestBIP84PublishedKeysAgree(t *testing.T) {
	prv, err := hdkeychain.NewKeyFromString(bip84ZPrv)
	if err != nil {
		t.Fatal(err)
	}
	// hdkeychain neuters only the registered xprv/tprv versions.
	prv, err = prv.CloneWithVersion(chaincfg.MainNetParams.HDPrivateKeyID[:])
	if err != nil {
		t.Fatal(err)
	}
	pub, err := prv.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	zpub, err := pub.CloneWithVersion([]byte{0x04, 0xb2, 0x47, 0x46})
	if err != nil {
		t.Fatal(err)
	}
	if zpub.String() != bip84ZPub {
		t.Fatalf("neutered zprv = %s, want %s", zpub.String(), bip84ZPub)
	}
	d, err := NewDeriver("mainnet", bip84ZPub, "")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := d.external.Derive(0)
	ec, _ := k.ECPubKey()
	if got := hex.EncodeToString(ec.SerializeCompressed()); got != "0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c" {
		t.Fatalf("pubkey m/84'/0'/0'/0/0 = %s", got)
	}
}

// The cached CKDpub must agree with hdkeychain's derivation.
func TestChildKeysMatchHDKeychain(t *testing.T) {
	d, err := NewDeriver("mainnet", bip44XPub, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint32{0, 1, 2, 19, 20, 1000, 65535, 1 << 20, hdkeychain.HardenedKeyStart - 1} {
		want, err := d.external.Derive(i)
		if err != nil {
			t.Fatal(err)
		}
		wk, _ := want.ECPubKey()
		got, err := d.childPubKey(i)
		if err != nil {
			t.Fatal(err)
		}
		if !got.IsEqual(wk) {
			t.Fatalf("index %d: %x, hdkeychain %x", i, got.SerializeCompressed(), wk.SerializeCompressed())
		}
	}
	if _, err := d.Derive(hdkeychain.HardenedKeyStart); err == nil {
		t.Fatal("hardened index accepted")
	}
}

func TestAddressTypeOverride(t *testing.T) {
	// The same key as p2wpkh must give BIP84's address when read as a zpub.
	dz, _ := NewDeriver("mainnet", bip84ZPub, "")
	want, _ := dz.Address(0)
	// Reserialise the zpub as an xpub: the type now comes from address_type.
	raw := mustReversion(t, bip84ZPub, chaincfg.MainNetParams.HDPublicKeyID[:])
	dx, err := NewDeriver("mainnet", raw, "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := dx.Address(0)
	if got != want {
		t.Fatalf("xpub with address_type p2wpkh: %s, want %s", got, want)
	}
	if _, err := NewDeriver("mainnet", bip84ZPub, "p2wsh"); err == nil {
		t.Fatal("unknown address type accepted")
	}
}

func TestRegtestAddresses(t *testing.T) {
	tpub := mustReversion(t, bip84ZPub, chaincfg.TestNet3Params.HDPublicKeyID[:])
	for typ, prefix := range map[string]string{"p2pkh": "m", "p2sh-p2wpkh": "2", "p2wpkh": "bcrt1q", "p2tr": "bcrt1p"} {
		d, err := NewDeriver("regtest", tpub, typ)
		if err != nil {
			t.Fatal(err)
		}
		a, err := d.Address(7)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(a, prefix) && !(prefix == "m" && strings.HasPrefix(a, "n")) {
			t.Errorf("%s regtest address %s, want prefix %s", typ, a, prefix)
		}
	}
	for _, n := range []string{"testnet", "signet"} {
		d, err := NewDeriver(n, tpub, "p2wpkh")
		if err != nil {
			t.Fatal(err)
		}
		if a, _ := d.Address(0); !strings.HasPrefix(a, "tb1q") {
			t.Errorf("%s address %s", n, a)
		}
	}
}

func mustReversion(t *testing.T, key string, version []byte) string {
	t.Helper()
	k, err := hdkeychain.NewKeyFromString(key)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := k.CloneWithVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	return k2.String()
}

func TestPrivateKeysRefused(t *testing.T) {
	master, err := hdkeychain.NewMaster(make([]byte, 32), &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string][]byte{
		"xprv": {0x04, 0x88, 0xad, 0xe4}, "yprv": {0x04, 0x9d, 0x78, 0x78}, "zprv": {0x04, 0xb2, 0x43, 0x0c},
		"tprv": {0x04, 0x35, 0x83, 0x94}, "uprv": {0x04, 0x4a, 0x4e, 0x28}, "vprv": {0x04, 0x5f, 0x18, 0xbc},
		// A private key carrying a PUBLIC version is still a private key.
		"xpub-version": {0x04, 0x88, 0xb2, 0x1e},
	}
	keys := map[string]string{"published zprv": bip84ZPrv, "published uprv": bip49UPrv}
	for name, v := range versions {
		k, err := master.CloneWithVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = k.String()
	}
	for name, key := range keys {
		if name != "xpub-version" && !strings.HasPrefix(key, name[:4]) && !strings.HasPrefix(name, "published") {
			t.Fatalf("%s test key has prefix %s", name, key[:4])
		}
		for _, network := range []string{"mainnet", "testnet", "regtest"} {
			_, err := NewDeriver(network, key, "")
			if !errors.Is(err, ErrPrivateKey) {
				t.Errorf("%s on %s: err = %v, want ErrPrivateKey", name, network, err)
				continue
			}
			if !strings.Contains(err.Error(), "only extended PUBLIC keys") {
				t.Errorf("message %q does not say only public keys belong here", err)
			}
			if strings.Contains(err.Error(), key[4:20]) {
				t.Errorf("error echoes the key: %q", err)
			}
		}
		probs := CheckConfig(config.Bitcoin{Enabled: true, Network: "mainnet", XPub: key})
		if len(probs) != 1 || probs[0].Key != "bitcoin.xpub" || strings.Contains(probs.Error(), key[4:20]) {
			t.Errorf("CheckConfig(%s) = %v", name, probs)
		}
	}
}

func TestWrongNetworkRefused(t *testing.T) {
	for _, c := range []struct{ network, key string }{
		{"testnet", bip84ZPub}, {"regtest", bip44XPub}, {"signet", bip86XPub},
		{"mainnet", bip49UPub},
	} {
		_, err := NewDeriver(c.network, c.key, "")
		if !errors.Is(err, ErrWrongNetwork) {
			t.Errorf("%s key on %s: err = %v, want ErrWrongNetwork", c.key[:4], c.network, err)
		}
		if err != nil && strings.Contains(err.Error(), c.key[4:20]) {
			t.Errorf("error echoes the key: %q", err)
		}
	}
	if _, err := NewDeriver("moonnet", bip44XPub, ""); err == nil {
		t.Error("unknown network accepted")
	}
}

func TestBadKeys(t *testing.T) {
	bad := []string{"", "xpub", bip44XPub[:len(bip44XPub)-1] + "x", "not a key at all", strings.Repeat("1", 111)}
	for _, k := range bad {
		_, err := NewDeriver("mainnet", k, "")
		if err == nil {
			t.Errorf("%q accepted", k)
			continue
		}
		if len(k) > 20 && strings.Contains(err.Error(), k[4:20]) {
			t.Errorf("error echoes the key: %q", err)
		}
	}
	// Multisig SLIP-132 versions are not single-signature account keys.
	zpubMulti := mustReversion(t, bip84ZPub, []byte{0x02, 0xaa, 0x7e, 0xd3})
	if _, err := NewDeriver("mainnet", zpubMulti, ""); !errors.Is(err, ErrBadKey) {
		t.Errorf("Zpub: %v", err)
	}
}

func TestCheckConfig(t *testing.T) {
	ok := config.Bitcoin{Enabled: true, Network: "mainnet", XPub: bip86XPub, AddressType: "p2tr"}
	if p := CheckConfig(ok); len(p) != 0 {
		t.Errorf("valid config: %v", p)
	}
	if p := CheckConfig(config.Bitcoin{}); len(p) != 0 {
		t.Errorf("disabled: %v", p)
	}
	for _, c := range []config.Bitcoin{
		{Enabled: true, Network: "regtest", XPub: bip86XPub},
		{Enabled: true, Network: "bogus", XPub: bip86XPub},
		{Enabled: true, Network: "mainnet"},
		{Enabled: true, Network: "mainnet", XPub: bip86XPub, AddressType: "p2sh"},
	} {
		if p := CheckConfig(c); len(p) == 0 {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestValidateAddress(t *testing.T) {
	main := &chaincfg.MainNetParams
	for _, a := range []string{
		"1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA", "37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf",
		"bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU",
		"bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",
	} {
		if _, err := ValidateAddress(main, a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, a := range []string{"2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2", "tb1qcr8te4kr609gcawutmrza0j4xv80jy8zn2ed2n"} {
		if _, err := ValidateAddress(main, a); !errors.Is(err, ErrWrongNetwork) && !errors.Is(err, ErrBadAddress) {
			t.Errorf("%s on mainnet: %v", a, err)
		}
	}
	if _, err := ValidateAddress(main, "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"); !errors.Is(err, ErrWrongNetwork) {
		t.Errorf("testnet p2sh on mainnet: %v", err)
	}
	for _, a := range []string{"", "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv", "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabB", "hello"} {
		if _, err := ValidateAddress(main, a); err == nil {
			t.Errorf("%q accepted", a)
		}
	}
}

func BenchmarkDerive(b *testing.B) {
	for _, typ := range []string{"p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2tr"} {
		b.Run(typ, func(b *testing.B) {
			d, err := NewDeriver("mainnet", bip44XPub, typ)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := d.Derive(uint32(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "addresses/s")
		})
	}
}

// plainDerive is the reference derivation through hdkeychain and btcutil /
// txscript only: what Derive must produce, index for index.
func plainDerive(t *testing.T, ext *hdkeychain.ExtendedKey, typ AddressType, net *chaincfg.Params, i uint32) (string, []byte, error) {
	t.Helper()
	k, err := ext.Derive(i)
	if err != nil {
		return "", nil, err
	}
	pub, err := k.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	var addr btcutil.Address
	switch typ {
	case P2PKH:
		addr, err = btcutil.NewAddressPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), net)
	case P2WPKH:
		addr, err = btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), net)
	case P2SHP2WPKH:
		redeem := append([]byte{txscript.OP_0, txscript.OP_DATA_20}, btcutil.Hash160(pub.SerializeCompressed())...)
		addr, err = btcutil.NewAddressScriptHash(redeem, net)
	case P2TR:
		addr, err = btcutil.NewAddressTaproot(schnorr.SerializePubKey(txscript.ComputeTaprootKeyNoScript(pub)), net)
	default:
		t.Fatalf("type %q", typ)
	}
	if err != nil {
		t.Fatal(err)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	return addr.EncodeAddress(), script, nil
}

// Every address handed out must be exactly what hdkeychain and txscript
// give, index for index, for every type on mainnet and test networks.
func TestDeriveMatchesHDKeychain(t *testing.T) {
	types := []AddressType{P2PKH, P2SHP2WPKH, P2WPKH, P2TR}
	cases := []struct{ network, key string }{
		{"mainnet", bip44XPub}, {"mainnet", bip49YPub}, {"mainnet", bip84ZPub}, {"mainnet", bip86XPub},
		{"testnet", bip49UPub},
		{"testnet", mustReversion(t, bip86XPub, chaincfg.TestNet3Params.HDPublicKeyID[:])},
		{"regtest", mustReversion(t, bip44XPub, chaincfg.TestNet3Params.HDPublicKeyID[:])},
		{"signet", mustReversion(t, bip84ZPub, chaincfg.TestNet3Params.HDPublicKeyID[:])},
	}
	for _, c := range cases {
		net, err := NetParams(c.network)
		if err != nil {
			t.Fatal(err)
		}
		// An independent parse of the same key with the plain version.
		acct, err := hdkeychain.NewKeyFromString(mustReversion(t, c.key, net.HDPublicKeyID[:]))
		if err != nil {
			t.Fatal(err)
		}
		ext, err := acct.Derive(0)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range types {
			d, err := NewDeriver(c.network, c.key, string(typ))
			if err != nil {
				t.Fatal(err)
			}
			for i := uint32(0); i < 200; i++ {
				wantAddr, wantScript, wantErr := plainDerive(t, ext, typ, net, i)
				got, err := d.Derive(i)
				if !errors.Is(err, wantErr) && !(err == nil && wantErr == nil) {
					t.Fatalf("%s %s… %s index %d: err %v, hdkeychain %v", c.network, c.key[:4], typ, i, err, wantErr)
				}
				if got.Address != wantAddr || !bytes.Equal(got.Script, wantScript) || got.Index != i {
					t.Fatalf("%s %s… %s index %d: %s %x, hdkeychain %s %x",
						c.network, c.key[:4], typ, i, got.Address, got.Script, wantAddr, wantScript)
				}
			}
		}
	}
}
