package descriptor

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
)

const (
	vecPub   = "03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd"
	vecXOnly = "a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd"
	vecWIF   = "L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1"
	vecWIFU  = "5KYZdUEo39z3FPrtuX2QbbwGnNP5zTd7yyr2SC1j299sBCnWjss"
	vecUnc   = "04a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd5b8dec5235a0fa8722476c7709c02559e3aa73aa03918ba2d492eea75abea235"
	vecXpub2 = "xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y"
	vecXprv2 = "xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2qaMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L"
)

// BIP381-386 valid vectors within the supported set, with the scripts the
// BIPs list for indexes 0, 1, 2. Fixed-key vectors are evaluated without
// the ranged requirement of Parse; vectors written with xprv keys are
// evaluated with the xprvs replaced by their xpubs (same public keys).
func TestScriptVectors(t *testing.T) {
	for _, tc := range []struct {
		bip, desc string
		want      []string
	}{
		{"381", "pkh([deadbeef/1/2'/3/4']" + vecPub + ")", []string{"76a9149a1c78a507689f6f54b847ad1cef1e614ee23f1e88ac"}},
		{"381", "pkh([deadbeef/1/2h/3/4h]" + vecPub + ")", []string{"76a9149a1c78a507689f6f54b847ad1cef1e614ee23f1e88ac"}},
		{"381", "pkh([bd16bee5/2147483647h]xpub69H7F5dQzmVd3vPuLKtcXJziMEQByuDidnX3YdwgtNsecY5HRGtAAQC5mXTt4dsv9RzyjgDjAQs9VGVV6ydYCHnprc9vvaA5YtqWyL6hyds/0)",
			[]string{"76a914ebdc90806a9c4356c1c88e42216611e1cb4c1c1788ac"}},
		{"382", "wpkh(" + vecPub + ")", []string{"00149a1c78a507689f6f54b847ad1cef1e614ee23f1e"}},
		{"382", "wpkh([ffffffff/13']xprv9vHkqa6EV4sPZHYqZznhT2NPtPCjKuDKGY38FBWLvgaDx45zo9WQRUT3dKYnjwih2yJD9mkrocEZXo1ex8G81dwSM1fwqWpWkeS3v86pgKt/1/2/0)",
			[]string{"0014326b2249e3a25d5dc60935f044ee835d090ba859"}},
		{"382", "wpkh([ffffffff/13']xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH/1/2/*)",
			[]string{"0014326b2249e3a25d5dc60935f044ee835d090ba859", "0014af0bd98abc2f2cae66e36896a39ffe2d32984fb7", "00141fa798efd1cbf95cebf912c031b8a4a6e9fb9f27"}},
		{"383", "sh(multi(2,[00000000/111'/222]" + bip380Xprv + "," + vecXprv2 + "/0))",
			[]string{"a91445a9a622a8b0a1269944be477640eedc447bbd8487"}},
		{"383", "sh(wsh(multi(16,03669b8afcec803a0d323e9a17f3ea8e68e8abe5a278020a929adbec52421adbd0,0260b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce600,0362a74e399c39ed5593852a30147f2959b56bb827dfa3e60e464b02ccf87dc5e8,0261345b53de74a4d721ef877c255429961b7e43714171ac06168d7e08c542a8b8,02da72e8b46901a65d4374fe6315538d8f368557dda3a1dcf9ea903f3afe7314c8,0318c82dd0b53fd3a932d16e0ba9e278fcc937c582d5781be626ff16e201f72286,0297ccef1ef99f9d73dec9ad37476ddb232f1238aff877af19e72ba04493361009,02e502cfd5c3f972fe9a3e2a18827820638f96b6f347e54d63deb839011fd5765d,03e687710f0e3ebe81c1037074da939d409c0025f17eb86adb9427d28f0f7ae0e9,02c04d3a5274952acdbc76987f3184b346a483d43be40874624b29e3692c1df5af,02ed06e0f418b5b43a7ec01d1d7d27290fa15f75771cb69b642a51471c29c84acd,036d46073cbb9ffee90473f3da429abc8de7f8751199da44485682a989a4bebb24,02f5d1ff7c9029a80a4e36b9a5497027ef7f3e73384a4a94fbfe7c4e9164eec8bc,02e41deffd1b7cce11cde209a781adcffdabd1b91c0ba0375857a2bfd9302419f3,02d76625f7956a7fc505ab02556c23ee72d832f1bac391bcd2d3abce5710a13d06,0399eb0a5487515802dc14544cf10b3666623762fbed2ec38a3975716e2c29c232)))",
			[]string{"a9147fc63e13dc25e8a95a3cee3d9a714ac3afd96f1e87"}},
		{"386", "tr(" + vecXOnly + ")", []string{"512077aab6e066f8a7419c5ab714c12c67d25007ed55a43cadcacb4d7a970a093f11"}},
		// Compressed keys inside tr() are used as x-only keys.
		{"386", "tr(" + vecPub + ")", []string{"512077aab6e066f8a7419c5ab714c12c67d25007ed55a43cadcacb4d7a970a093f11"}},
	} {
		desc := neuterXprvs(t, tc.desc)
		got := evalFixed(t, desc, len(tc.want))
		for i := range tc.want {
			if got[i] != tc.want[i] {
				t.Errorf("BIP%s %s index %d:\n got %s\nwant %s", tc.bip, tc.desc, i, got[i], tc.want[i])
			}
		}
	}
}

// bip383Keys20 are the public keys of the 20 WIF keys of the BIP383
// 20-of-20 vectors.
func bip383Keys20(t *testing.T) string {
	wifs := strings.Split("KzoAz5CanayRKex3fSLQ2BwJpN7U52gZvxMyk78nDMHuqrUxuSJy,KwGNz6YCCQtYvFzMtrC6D3tKTKdBBboMrLTsjr2NYVBwapCkn7Mr,KxogYhiNfwxuswvXV66eFyKcCpm7dZ7TqHVqujHAVUjJxyivxQ9X,L2BUNduTSyZwZjwNHynQTF14mv2uz2NRq5n5sYWTb4FkkmqgEE9f,L1okJGHGn1kFjdXHKxXjwVVtmCMR2JA5QsbKCSpSb7ReQjezKeoD,KxDCNSST75HFPaW5QKpzHtAyaCQC7p9Vo3FYfi2u4dXD1vgMiboK,L5edQjFtnkcf5UWURn6UuuoFrabgDQUHdheKCziwN42aLwS3KizU,KzF8UWFcEC7BYTq8Go1xVimMkDmyNYVmXV5PV7RuDicvAocoPB8i,L3nHUboKG2w4VSJ5jYZ5CBM97oeK6YuKvfZxrefdShECcjEYKMWZ,KyjHo36dWkYhimKmVVmQTq3gERv3pnqA4xFCpvUgbGDJad7eS8WE,KwsfyHKRUTZPQtysN7M3tZ4GXTnuov5XRgjdF2XCG8faAPmFruRF,KzCUbGhN9LJhdeFfL9zQgTJMjqxdBKEekRGZX24hXdgCNCijkkap,KzgpMBwwsDLwkaC5UrmBgCYaBD2WgZ7PBoGYXR8KT7gCA9UTN5a3,KyBXTPy4T7YG4q9tcAM3LkvfRpD1ybHMvcJ2ehaWXaSqeGUxEdkP,KzJDe9iwJRPtKP2F2AoN6zBgzS7uiuAwhWCfGdNeYJ3PC1HNJ8M8,L1xbHrxynrqLKkoYc4qtoQPx6uy5qYXR5ZDYVYBSRmCV5piU3JG9,KzRedjSwMggebB3VufhbzpYJnvHfHe9kPJSjCU5QpJdAW3NSZxYS,Kyjtp5858xL7JfeV4PNRCKy2t6XvgqNNepArGY9F9F1SSPqNEMs3,L2D4RLHPiHBidkHS8ftx11jJk1hGFELvxh8LoxNQheaGT58dKenW,KyLPZdwY4td98bKkXqEXTEBX3vwEYTQo1yyLjX2jKXA63GBpmSjv", ",")
	pubs := make([]string, len(wifs))
	for i, w := range wifs {
		wif, err := btcutil.DecodeWIF(w)
		if err != nil || !wif.CompressPubKey {
			t.Fatalf("vector WIF %d: %v", i, err)
		}
		pubs[i] = hex.EncodeToString(wif.PrivKey.PubKey().SerializeCompressed())
	}
	return strings.Join(pubs, ",")
}

// The BIP383 20-of-20 vectors (threshold and key count above 16 are pushed
// as numbers), with the WIF keys replaced by their compressed public keys.
func TestMultisig20Vectors(t *testing.T) {
	keys := bip383Keys20(t)
	if got := evalFixed(t, "wsh(multi(20,"+keys+"))", 1)[0]; got != "0020376bd8344b8b6ebe504ff85ef743eaa1aa9272178223bcb6887e9378efb341ac" {
		t.Errorf("wsh(multi(20,…)) = %s", got)
	}
	if got := evalFixed(t, "sh(wsh(multi(20,"+keys+")))", 1)[0]; got != "a914c2c9c510e9d7f92fd6131e94803a8d34a8ef675e87" {
		t.Errorf("sh(wsh(multi(20,…))) = %s", got)
	}
	refusedAs(t, "wsh(multi(20,"+keys+","+vecPub+"))", ErrMultisig)
	first16 := strings.Join(strings.Split(keys, ",")[:16], ",")
	refusedAs(t, "sh(multi(16,"+first16+"))", ErrMultisig) // BIP383: more than 15 keys in P2SH
}

// The bare sortedmulti vector of BIP383 (index 0, 1, 2), checked on the
// multisig script inside wsh(): keys sorted after derivation.
func TestSortedMultiVectorBIP383(t *testing.T) {
	tpl, err := parse("wsh(sortedmulti(2,"+bip380Xpub+"/*,"+vecXpub2+"/0/0/*))", options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := tpl.descriptor(0)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		"5221025d5fc65ebb8d44a5274b53bac21ff8307fec2334a32df05553459f8b1f7fe1b62102fbd47cc8034098f0e6a94c6aeee8528abf0a2153a5d8e46d325b7284c046784652ae",
		"52210264fd4d1f5dea8ded94c61e9641309349b62f27fbffe807291f664e286bfbe6472103f4ece6dfccfa37b211eb3d0af4d0c61dba9ef698622dc17eecdf764beeb005a652ae",
		"5221022ccabda84c30bad578b13c89eb3b9544ce149787e5b538175b1d1ba259cbb83321024d902e1a2fc7a8755ab5b694c575fce742c48d9ff192e63df5193e4c7afe1f9c52ae",
	} {
		pubs := make([]*btcec.PublicKey, len(tpl.keys))
		for j, k := range tpl.keys {
			if pubs[j], err = k.childKey(d.parents[j], uint32(i)); err != nil {
				t.Fatal(err)
			}
		}
		ms, err := tpl.multisigScript(pubs)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(ms); got != want {
			t.Errorf("index %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// BIP381-386 vectors this package refuses: invalid ones and valid ones
// outside the supported set.
func TestRefusedVectors(t *testing.T) {
	for _, tc := range []struct {
		desc string
		kind error
	}{
		// BIP381 valid, unsupported here.
		{"pk(" + vecPub + ")", ErrUnsupported},
		{"pk(" + vecWIF + ")", ErrUnsupported},
		{"pkh(" + vecWIF + ")", ErrPrivateKey},
		{"pkh(" + vecUnc + ")", ErrInvalidKey},
		{"pkh(" + vecWIFU + ")", ErrPrivateKey},
		{"sh(pk(" + vecPub + "))", ErrUnsupported},
		{"sh(pkh(" + vecPub + "))", ErrUnsupported},
		{"pkh(" + bip32Xprv + "/2147483647'/0)", ErrPrivateKey},
		// BIP381 invalid.
		{"pk(pk(" + vecPub + "))", ErrUnsupported},
		{"pkh(pk(" + vecPub + "))", ErrInvalid},
		{"sh(" + vecPub + ")", ErrInvalid},
		{"sh(sh(pkh(" + vecPub + ")))", ErrInvalid},
		// BIP382 valid, unsupported here.
		{"wpkh(" + vecWIF + ")", ErrPrivateKey},
		{"sh(wpkh(xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi/10/20/30/40/*'))", ErrPrivateKey},
		{"wsh(pkh(" + vecPub + "))", ErrUnsupported},
		{"wsh(pk(" + vecPub + "))", ErrUnsupported},
		{"sh(wsh(pkh(" + vecPub + ")))", ErrUnsupported},
		// BIP382 invalid.
		{"wpkh(" + vecWIFU + ")", ErrPrivateKey},
		{"sh(wpkh(" + vecWIFU + "))", ErrPrivateKey},
		{"wpkh(" + vecUnc + ")", ErrInvalidKey},
		{"sh(wpkh(" + vecUnc + "))", ErrInvalidKey},
		{"wsh(pk(" + vecUnc + "))", ErrUnsupported},
		{"wsh(wpkh(" + vecPub + "))", ErrInvalid},
		{"wsh(wsh(pkh(" + vecPub + ")))", ErrInvalid},
		{"sh(wsh(wsh(pkh(" + vecPub + "))))", ErrInvalid},
		{"wpkh(wsh(pkh(" + vecPub + ")))", ErrInvalid},
		{"wsh(" + vecPub + ")", ErrInvalid},
		// BIP383 valid, unsupported here (bare multisig, uncompressed
		// keys, private keys).
		{"multi(1," + vecWIF + "," + vecWIFU + ")", ErrUnsupported},
		{"multi(1," + vecPub + "," + vecUnc + ")", ErrUnsupported},
		{"sortedmulti(1," + vecUnc + "," + vecPub + ")", ErrUnsupported},
		{"sh(multi(2,[00000000/111'/222]" + bip380Xprv + "," + vecXprv2 + "/0))", ErrPrivateKey},
		{"sortedmulti(2," + bip380Xpub + "/*," + vecXpub2 + "/0/0/*)", ErrUnsupported},
		{"wsh(multi(2," + bip32Xprv + "/2147483647'/0,xprv9vHkqa6EV4sPZHYqZznhT2NPtPCjKuDKGY38FBWLvgaDx45zo9WQRUT3dKYnjwih2yJD9mkrocEZXo1ex8G81dwSM1fwqWpWkeS3v86pgKt/1/2/*,xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi/10/20/30/40/*'))", ErrPrivateKey},
		// BIP383 invalid, inside wsh() (bare multisig is refused first).
		{"wsh(multi(a," + vecPub + "," + bip380Pub + "))", ErrMultisig},
		{"wsh(multi(0," + vecPub + "," + bip380Pub + "))", ErrMultisig},
		{"wsh(multi(3," + vecPub + "," + bip380Pub + "))", ErrMultisig},
		{"sh(multi(3," + vecPub + "," + bip380Pub + "))", ErrMultisig},
		// BIP386 valid, unsupported here.
		{"tr(" + vecWIF + ")", ErrPrivateKey},
		{"tr(" + vecXOnly + ",pk(669b8afcec803a0d323e9a17f3ea8e68e8abe5a278020a929adbec52421adbd0))", ErrUnsupported},
		{"tr(" + bip380Xprv + "/0/*,pk(" + bip380Xprv + "/1/*))", ErrUnsupported},
		{"tr(" + bip380Xpub + "/0/*,pk(" + bip380Xpub + "/1/*))", ErrUnsupported},
		// BIP386 invalid.
		{"tr(" + vecWIFU + ")", ErrPrivateKey},
		{"tr(" + vecUnc + ")", ErrInvalidKey},
		{"wsh(tr(" + vecXOnly + "))", ErrInvalid},
		{"sh(tr(" + vecXOnly + "))", ErrInvalid},
		{"tr(" + vecXOnly + ", pkh(" + vecWIF + "))", ErrUnsupported},
		// BIP384/385.
		{"combo(" + vecPub + ")", ErrUnsupported},
		{"addr(bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu)", ErrUnsupported},
		{"raw(deadbeef)", ErrUnsupported},
	} {
		refusedAs(t, tc.desc, tc.kind)
	}
}
