package descriptor

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
)

const vecXpub3 = "xpub661MyMwAqRbcGDZQUKLqmWodYLcoBQnQH33yYkkF3jjxeLvY8qr2wWGEWkiKFaaQfJCoi3HeEq3Dc5DptfbCyjD38fNhSqtKc1UHaP4ba3t"

// BIP389 multipath vectors within the supported set: branch i evaluates
// (and prints as) the i-th expanded descriptor of the BIP.
func TestMultipathBIP389(t *testing.T) {
	for _, tc := range []struct {
		desc     string
		expanded []string
	}{
		{
			// The BIP text lacks the final ')'.
			"wpkh([ffffffff/13h]xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH/<1;3>/2/*)",
			[]string{
				"wpkh([ffffffff/13h]xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH/1/2/*)",
				"wpkh([ffffffff/13h]xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH/3/2/*)",
			},
		},
		{
			"sh(multi(2," + bip380Xpub + "/<1;2;3>/0/*," + vecXpub2 + "/0/*," + vecXpub3 + "/0/0/<3;4;5>/*))",
			[]string{
				"sh(multi(2," + bip380Xpub + "/1/0/*," + vecXpub2 + "/0/*," + vecXpub3 + "/0/0/3/*))",
				"sh(multi(2," + bip380Xpub + "/2/0/*," + vecXpub2 + "/0/*," + vecXpub3 + "/0/0/4/*))",
				"sh(multi(2," + bip380Xpub + "/3/0/*," + vecXpub2 + "/0/*," + vecXpub3 + "/0/0/5/*))",
			},
		},
	} {
		d, err := Parse(tc.desc)
		if err != nil {
			t.Fatalf("%s: %v", tc.desc, err)
		}
		if d.Branches() != len(tc.expanded) || d.Branch() != 0 {
			t.Errorf("%s: %d branches, branch %d; want %d, 0", tc.desc, d.Branches(), d.Branch(), len(tc.expanded))
		}
		for i, exp := range tc.expanded {
			b, err := d.WithBranch(i)
			if err != nil {
				t.Fatalf("branch %d: %v", i, err)
			}
			want, err := Parse(exp)
			if err != nil {
				t.Fatalf("%s: %v", exp, err)
			}
			if b.String() != want.String() {
				t.Errorf("branch %d prints as\n %s\nwant %s", i, b, want)
			}
			for idx := uint32(0); idx < 3; idx++ {
				got, err1 := b.Script(idx)
				exp, err2 := want.Script(idx)
				if err1 != nil || err2 != nil || hex.EncodeToString(got) != hex.EncodeToString(exp) {
					t.Errorf("branch %d index %d: %x (%v), want %x (%v)", i, idx, got, err1, exp, err2)
				}
			}
		}
		if _, err := d.WithBranch(len(tc.expanded)); err == nil {
			t.Errorf("branch %d of %d exists", len(tc.expanded), len(tc.expanded))
		}
	}
	// BIP389 invalid vectors (private keys replaced by public ones, so that
	// the multipath error is the one reported).
	for _, desc := range []string{
		"pkh(" + bip32Xpub + "/<0;1>/<2;3>)",
		"pkh([deadbeef/<0;1>]" + bip32Xpub + "/0)",
		"sh(multi(2," + bip380Xpub + "/<1;2;3>/0/*," + vecXpub2 + "/0/*," + vecXpub3 + "/0/0/<3;4>/*))",
		"wpkh(" + bip32Xpub + "/<>/*)",
		"wpkh(" + bip32Xpub + "/0>/*)",
		"wpkh(" + bip32Xpub + "/<0/*)",
		"wpkh(" + bip32Xpub + "/<0;>/*)",
		// Ours: duplicates, a single alternative.
		"wpkh(" + bip32Xpub + "/<0;0>/*)",
		"wpkh(" + bip32Xpub + "/<0>/*)",
	} {
		refusedAs(t, desc, ErrInvalid)
	}
	refusedAs(t, "wpkh("+bip32Xpub+"/<0;1h>/*)", ErrHardened)
}

// BIP67 test vectors: sortedmulti orders the keys by their compressed
// serialisation, giving the BIP's redeem script and P2SH address whatever
// the order written; multi() keeps the order written.
func TestSortedMultiBIP67(t *testing.T) {
	for _, tc := range []struct {
		list, sorted []string
		script, addr string
	}{
		{
			[]string{"02ff12471208c14bd580709cb2358d98975247d8765f92bc25eab3b2763ed605f8", "02fe6f0a5a297eb38c391581c4413e084773ea23954d93f7753db7dc0adc188b2f"},
			[]string{"02fe6f0a5a297eb38c391581c4413e084773ea23954d93f7753db7dc0adc188b2f", "02ff12471208c14bd580709cb2358d98975247d8765f92bc25eab3b2763ed605f8"},
			"522102fe6f0a5a297eb38c391581c4413e084773ea23954d93f7753db7dc0adc188b2f2102ff12471208c14bd580709cb2358d98975247d8765f92bc25eab3b2763ed605f852ae",
			"39bgKC7RFbpoCRbtD5KEdkYKtNyhpsNa3Z",
		},
		{
			[]string{"02632b12f4ac5b1d1b72b2a3b508c19172de44f6f46bcee50ba33f3f9291e47ed0", "027735a29bae7780a9755fae7a1c4374c656ac6a69ea9f3697fda61bb99a4f3e77", "02e2cc6bd5f45edd43bebe7cb9b675f0ce9ed3efe613b177588290ad188d11b404"},
			[]string{"02632b12f4ac5b1d1b72b2a3b508c19172de44f6f46bcee50ba33f3f9291e47ed0", "027735a29bae7780a9755fae7a1c4374c656ac6a69ea9f3697fda61bb99a4f3e77", "02e2cc6bd5f45edd43bebe7cb9b675f0ce9ed3efe613b177588290ad188d11b404"},
			"522102632b12f4ac5b1d1b72b2a3b508c19172de44f6f46bcee50ba33f3f9291e47ed021027735a29bae7780a9755fae7a1c4374c656ac6a69ea9f3697fda61bb99a4f3e772102e2cc6bd5f45edd43bebe7cb9b675f0ce9ed3efe613b177588290ad188d11b40453ae",
			"3CKHTjBKxCARLzwABMu9yD85kvtm7WnMfH",
		},
		{
			[]string{"030000000000000000000000000000000000004141414141414141414141414141", "020000000000000000000000000000000000004141414141414141414141414141", "020000000000000000000000000000000000004141414141414141414141414140", "030000000000000000000000000000000000004141414141414141414141414140"},
			[]string{"020000000000000000000000000000000000004141414141414141414141414140", "020000000000000000000000000000000000004141414141414141414141414141", "030000000000000000000000000000000000004141414141414141414141414140", "030000000000000000000000000000000000004141414141414141414141414141"},
			"522102000000000000000000000000000000000000414141414141414141414141414021020000000000000000000000000000000000004141414141414141414141414141210300000000000000000000000000000000000041414141414141414141414141402103000000000000000000000000000000000000414141414141414141414141414154ae",
			"32V85igBri9zcfBRVupVvwK18NFtS37FuD",
		},
		{
			[]string{"022df8750480ad5b26950b25c7ba79d3e37d75f640f8e5d9bcd5b150a0f85014da", "03e3818b65bcc73a7d64064106a859cc1a5a728c4345ff0b641209fba0d90de6e9", "021f2f6e1e50cb6a953935c3601284925decd3fd21bc445712576873fb8c6ebc18"},
			[]string{"021f2f6e1e50cb6a953935c3601284925decd3fd21bc445712576873fb8c6ebc18", "022df8750480ad5b26950b25c7ba79d3e37d75f640f8e5d9bcd5b150a0f85014da", "03e3818b65bcc73a7d64064106a859cc1a5a728c4345ff0b641209fba0d90de6e9"},
			"5221021f2f6e1e50cb6a953935c3601284925decd3fd21bc445712576873fb8c6ebc1821022df8750480ad5b26950b25c7ba79d3e37d75f640f8e5d9bcd5b150a0f85014da2103e3818b65bcc73a7d64064106a859cc1a5a728c4345ff0b641209fba0d90de6e953ae",
			"3Q4sF6tv9wsdqu2NtARzNCpQgwifm2rAba",
		},
	} {
		redeem, _ := hex.DecodeString(tc.script)
		addr, err := btcutil.NewAddressScriptHash(redeem, &chaincfg.MainNetParams)
		if err != nil || addr.EncodeAddress() != tc.addr {
			t.Fatalf("vector script hashes to %v (%v), want %s", addr, err, tc.addr)
		}
		want, _ := txscript.PayToAddrScript(addr)
		for _, desc := range []string{
			"sh(sortedmulti(2," + strings.Join(tc.list, ",") + "))",
			"sh(multi(2," + strings.Join(tc.sorted, ",") + "))",
		} {
			if got := evalFixed(t, desc, 1)[0]; got != hex.EncodeToString(want) {
				t.Errorf("%s:\n got %s\nwant %x (%s)", desc, got, want, tc.addr)
			}
		}
		if len(tc.list) > 1 && strings.Join(tc.list, "") != strings.Join(tc.sorted, "") {
			if got := evalFixed(t, "sh(multi(2,"+strings.Join(tc.list, ",")+"))", 1)[0]; got == hex.EncodeToString(want) {
				t.Errorf("multi() over unsorted keys gave the sorted script")
			}
		}
	}
}
