package descriptor_test

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"

	"github.com/ipnd/ipnd/chains/bitcoin/descriptor"
)

// addressOf encodes a standard scriptPubKey as an address of params, the
// way callers of this package turn scripts into addresses.
func addressOf(t testing.TB, script []byte, params *chaincfg.Params) string {
	t.Helper()
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(script, params)
	if err != nil || len(addrs) != 1 {
		t.Fatalf("script %x: %d addresses, %v", script, len(addrs), err)
	}
	return addrs[0].EncodeAddress()
}

// scriptOf is the scriptPubKey paying addr.
func scriptOf(t testing.TB, addr btcutil.Address) []byte {
	t.Helper()
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatalf("PayToAddrScript(%s): %v", addr, err)
	}
	return script
}

func mustParse(t testing.TB, s string, opts ...descriptor.Option) *descriptor.Descriptor {
	t.Helper()
	d, err := descriptor.Parse(s, opts...)
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return d
}

func mustScript(t testing.TB, d *descriptor.Descriptor, index uint32) []byte {
	t.Helper()
	script, err := d.Script(index)
	if err != nil {
		t.Fatalf("%s: Script(%d): %v", d, index, err)
	}
	return script
}

// withVersion reserialises an extended key (public or private) as the
// extended PUBLIC key with the given 4 version bytes.
func withVersion(t testing.TB, key string, version uint32) string {
	t.Helper()
	k, err := hdkeychain.NewKeyFromString(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	var ver, parent [4]byte
	binary.BigEndian.PutUint32(ver[:], version)
	binary.BigEndian.PutUint32(parent[:], k.ParentFingerprint())
	return hdkeychain.NewExtendedKey(ver[:], pub.SerializeCompressed(), k.ChainCode(), parent[:],
		k.Depth(), k.ChildIndex(), false).String()
}

// asPrivateVersion reserialises an extended private key with other version
// bytes (Ltpv, …).
func asPrivateVersion(t testing.TB, key string, version uint32) string {
	t.Helper()
	k, err := hdkeychain.NewKeyFromString(key)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := k.ECPrivKey()
	if err != nil {
		t.Fatal(err)
	}
	var ver, parent [4]byte
	binary.BigEndian.PutUint32(ver[:], version)
	binary.BigEndian.PutUint32(parent[:], k.ParentFingerprint())
	return hdkeychain.NewExtendedKey(ver[:], priv.Serialize(), k.ChainCode(), parent[:],
		k.Depth(), k.ChildIndex(), true).String()
}

// derivePath derives a path of (possibly hardened) steps from key.
func derivePath(t testing.TB, key *hdkeychain.ExtendedKey, path ...uint32) *hdkeychain.ExtendedKey {
	t.Helper()
	for _, step := range path {
		child, err := key.Derive(step)
		if err != nil {
			t.Fatal(err)
		}
		key = child
	}
	return key
}

// fingerprint is the BIP32 fingerprint of key, in hex.
func fingerprint(t testing.TB, key *hdkeychain.ExtendedKey) string {
	t.Helper()
	pub, err := key.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(btcutil.Hash160(pub.SerializeCompressed())[:4])
}

const h = hdkeychain.HardenedKeyStart
