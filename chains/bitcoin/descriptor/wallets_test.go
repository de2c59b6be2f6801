package descriptor_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains/bitcoin/descriptor"
)

// The BIP84/BIP86/BIP49 test vectors all come from the mnemonic "abandon
// abandon … about", whose master key has fingerprint 73c5da0a.
const (
	abandonRoot = "xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu"
	// BIP84 account 0 (m/84'/0'/0'): the zprv of the BIP, its zpub, and
	// the same public key with xpub version bytes.
	bip84Zprv = "zprvAdG4iTXWBoARxkkzNpNh8r6Qag3irQB8PzEMkAFeTRXxHpbF9z4QgEvBRmfvqWvGp42t42nvgGpNgYSJA9iefm1yYNZKEm7z6qUWCroSQnE"
	bip84Zpub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
	bip84Xpub = "xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V"
	// BIP86 account 0 (m/86'/0'/0').
	bip86Xpub = "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ"
	// BIP49 testnet account 0 (m/49'/1'/0'): the upub of the BIP and the
	// same key with tpub version bytes.
	bip49Upub = "upub5EFU65HtV5TeiSHmZZm7FUffBGy8UKeqp7vw43jYbvZPpoVsgU93oac7Wk3u6moKegAEWtGNF8DehrnHtv21XXEMYRUocHqguyjknFHYfgY"
	bip49Tpub = "tpubDD7tXK8KeQ3YY83yWq755fHY2JW8Ha8Q765tknUM5rSvjPcGWfUppDFMpQ1ScziKfW3ZNtZvAD7M3u7bSs7HofjTD3KP3YxPK7X6hwV8Rk2"
)

func TestWalletVectorKeys(t *testing.T) {
	if got := withVersion(t, bip84Zprv, 0x0488b21e); got != bip84Xpub {
		t.Errorf("BIP84 account xpub %s, want %s", got, bip84Xpub)
	}
	if got := withVersion(t, bip84Zprv, 0x04b24746); got != bip84Zpub {
		t.Errorf("BIP84 account zpub %s, want %s", got, bip84Zpub)
	}
	if got := withVersion(t, bip49Upub, 0x043587cf); got != bip49Tpub {
		t.Errorf("BIP49 account tpub %s, want %s", got, bip49Tpub)
	}
	root, err := hdkeychain.NewKeyFromString(abandonRoot)
	if err != nil {
		t.Fatal(err)
	}
	if fp := fingerprint(t, root); fp != "73c5da0a" {
		t.Errorf("root fingerprint %s", fp)
	}
	acct86, err := derivePath(t, root, 86+h, 0+h, 0+h).Neuter()
	if err != nil || acct86.String() != bip86Xpub {
		t.Errorf("BIP86 account xpub %v (%v), want %s", acct86, err, bip86Xpub)
	}
	acct84 := derivePath(t, root, 84+h, 0+h, 0+h)
	if got := withVersion(t, acct84.String(), 0x0488b21e); got != bip84Xpub {
		t.Errorf("m/84'/0'/0' of the root is %s, want %s", got, bip84Xpub)
	}
}

// The published BIP84, BIP86 and BIP49 addresses, as receive (branch 0)
// and change (branch 1) of multipath descriptors.
func TestWalletVectors(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		params  *chaincfg.Params
		receive []string // indexes 0, 1
		change  string   // index 0 of branch 1
		script0 string   // hex, when the BIP lists it
	}{
		{
			"wpkh([73c5da0a/84h/0h/0h]" + bip84Xpub + "/<0;1>/*)", &chaincfg.MainNetParams,
			[]string{"bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"},
			"bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el", "",
		},
		{
			// SLIP-132 zpub: tolerated, same scripts.
			"wpkh(" + bip84Zpub + "/<0;1>/*)", &chaincfg.MainNetParams,
			[]string{"bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"},
			"bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el", "",
		},
		{
			"tr([73c5da0a/86'/0'/0']" + bip86Xpub + "/<0;1>/*)", &chaincfg.MainNetParams,
			[]string{"bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr", "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh"},
			"bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7",
			"5120a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
		},
		{
			"sh(wpkh([73c5da0a/49h/1h/0h]" + bip49Tpub + "/<0;1>/*))", &chaincfg.TestNet3Params,
			[]string{"2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"}, "", "",
		},
		{
			"sh(wpkh(" + bip49Upub + "/0/*))", &chaincfg.TestNet3Params,
			[]string{"2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"}, "", "",
		},
	} {
		d := mustParse(t, tc.desc)
		for i, want := range tc.receive {
			if got := addressOf(t, mustScript(t, d, uint32(i)), tc.params); got != want {
				t.Errorf("%s index %d: %s, want %s", tc.desc, i, got, want)
			}
		}
		if tc.script0 != "" {
			if got := hex.EncodeToString(mustScript(t, d, 0)); got != tc.script0 {
				t.Errorf("%s script 0: %s, want %s", tc.desc, got, tc.script0)
			}
		}
		if tc.change != "" {
			change, err := d.WithBranch(1)
			if err != nil {
				t.Fatal(err)
			}
			if got := addressOf(t, mustScript(t, change, 0), tc.params); got != tc.change {
				t.Errorf("%s change 0: %s, want %s", tc.desc, got, tc.change)
			}
		}
	}
}

// Litecoin's extended key forms parse like xpub/tpub, give the same scripts
// and expose their version bytes for the caller's network check; Litecoin
// private keys are refused.
func TestLitecoinKeyVersions(t *testing.T) {
	ref := mustParse(t, "wpkh("+bip84Xpub+"/0/*)")
	if v := ref.Keys()[0].Version; v != [4]byte{0x04, 0x88, 0xb2, 0x1e} {
		t.Errorf("xpub version %x", v)
	}
	for _, version := range []uint32{0x019da462 /* Ltub */, 0x01b26ef6 /* Mtub */, 0x0436f6e1 /* ttub */, 0x043587cf /* tpub */} {
		key := withVersion(t, bip84Xpub, version)
		d := mustParse(t, "wpkh([73c5da0a/84h/2h/0h]"+key+"/0/*)")
		k := d.Keys()[0]
		if got := uint32(k.Version[0])<<24 | uint32(k.Version[1])<<16 | uint32(k.Version[2])<<8 | uint32(k.Version[3]); got != version {
			t.Errorf("%s…: version %08x, want %08x", key[:4], got, version)
		}
		for i := uint32(0); i < 5; i++ {
			if !bytes.Equal(mustScript(t, d, i), mustScript(t, ref, i)) {
				t.Errorf("%s… index %d: scripts differ from the xpub's", key[:4], i)
			}
		}
	}
	root, err := hdkeychain.NewKeyFromString(abandonRoot)
	if err != nil {
		t.Fatal(err)
	}
	acct := derivePath(t, root, 84+h, 2+h, 0+h).String()
	for _, version := range []uint32{0x019d9cfe /* Ltpv */, 0x01b26792 /* Mtpv */, 0x04358394 /* tprv */} {
		key := asPrivateVersion(t, acct, version)
		_, err := descriptor.Parse("wpkh(" + key + "/0/*)")
		if !errors.Is(err, descriptor.ErrPrivateKey) {
			t.Errorf("%s… private key: %v, want ErrPrivateKey", key[:4], err)
		}
	}
}
