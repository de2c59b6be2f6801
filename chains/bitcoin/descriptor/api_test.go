package descriptor_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/chains/bitcoin/descriptor"
)

const (
	xpubA = "xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL"
	xprvA = "xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc"
	xpubB = "xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y"
	pubC  = "0260b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce600"
	tprv  = "tprv8ZgxMBicQKsPd9TeAdPADNnSyH9SSUUbTVeFszDE23Ki6TBB5nCefAdHkK8Fm3qMQR6sHwA56zqRmKmxnHk37JkiFzvncDqoKmPWubu7hDF"
	wif   = "L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1"
)

// String normalises: 'h' for hardened, lowercase hex, multipath resolved,
// white space trimmed, checksum appended; the result parses back to itself
// with the checksum required.
func TestStringNormalises(t *testing.T) {
	for in, want := range map[string]string{
		" wpkh([D34DB33F/84'/0H/0h]" + xpubA + "/0/*) \n":                                                "wpkh([d34db33f/84h/0h/0h]" + xpubA + "/0/*)",
		"wsh(sortedmulti(2,[DEADBEEF/48h/0h/0h/2h]" + xpubA + "/<0;1>/*," + strings.ToUpper(pubC) + "))": "wsh(sortedmulti(2,[deadbeef/48h/0h/0h/2h]" + xpubA + "/0/*," + pubC + "))",
		"sh(wsh(multi(1," + xpubA + "/7/*," + xpubB + "/0/1/2/*)))":                                      "sh(wsh(multi(1," + xpubA + "/7/*," + xpubB + "/0/1/2/*)))",
		"tr(" + xpubA + "/0/*)": "tr(" + xpubA + "/0/*)",
	} {
		d := mustParse(t, in)
		sum, err := descriptor.Checksum(want)
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != want+"#"+sum {
			t.Errorf("String() = %s\n       want %s#%s", d, want, sum)
		}
		again := mustParse(t, d.String(), descriptor.RequireChecksum())
		if again.String() != d.String() {
			t.Errorf("reparsed: %s", again)
		}
	}
}

func TestKeys(t *testing.T) {
	d := mustParse(t, "wsh(sortedmulti(2,[d34db33f/48h/0h/0h/2h]"+xpubA+"/<0;1>/*,"+pubC+"))")
	change, err := d.WithBranch(1)
	if err != nil {
		t.Fatal(err)
	}
	keys := change.Keys()
	if len(keys) != 2 {
		t.Fatalf("%d keys", len(keys))
	}
	k := keys[0]
	if !k.HasOrigin || k.Fingerprint != [4]byte{0xd3, 0x4d, 0xb3, 0x3f} ||
		!slices.Equal(k.OriginPath, []uint32{48 + h, h, h, 2 + h}) || !k.Extended || !k.Ranged ||
		k.Version != [4]byte{0x04, 0x88, 0xb2, 0x1e} || !slices.Equal(k.Path, []uint32{1}) || k.PubKey != nil ||
		k.Text != "[d34db33f/48h/0h/0h/2h]"+xpubA+"/1/*" {
		t.Errorf("extended key: %+v", k)
	}
	k = keys[1]
	if k.HasOrigin || k.Extended || k.Ranged || k.Version != [4]byte{} || len(k.PubKey) != 33 || k.Text != pubC {
		t.Errorf("fixed key: %+v", k)
	}
	// Keys are copies: changing them does not change the descriptor.
	keys[0].Path[0] = 5
	if change.Keys()[0].Path[0] != 1 {
		t.Error("Keys() shares its slices with the descriptor")
	}
}

func TestScriptIndexRange(t *testing.T) {
	d := mustParse(t, "wpkh("+xpubA+"/0/*)")
	if _, err := d.Script(1 << 31); !errors.Is(err, descriptor.ErrIndex) {
		t.Errorf("Script(2^31): %v, want ErrIndex", err)
	}
	if _, err := d.Script(1<<31 - 1); err != nil {
		t.Errorf("Script(2^31-1): %v", err)
	}
}

// Refusals: each is an *Error of a testable kind whose message says what is
// wrong, and none quotes a private key.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		desc string
		kind error
		msg  string // in the message
	}{
		{"wpkh(" + xprvA + "/0/*)", descriptor.ErrPrivateKey, "only needs the extended public key"},
		{"tr(" + tprv + "/0/*)", descriptor.ErrPrivateKey, "only needs the extended public key"},
		{"wsh(sortedmulti(2," + xpubA + "/0/*," + wif + "))", descriptor.ErrPrivateKey, "WIF private key"},
		{"wpkh(" + xpubA + "/0h/*)", descriptor.ErrHardened, "cannot be derived without the private key"},
		{"wpkh(" + xpubA + "/0/*h)", descriptor.ErrHardened, "hardened wildcard"},
		{"wpkh(" + xpubA + "/0/*')", descriptor.ErrHardened, "hardened wildcard"},
		{"wpkh(" + xpubA + "/0)", descriptor.ErrNotRanged, "no final /*"},
		{"wpkh(" + pubC + ")", descriptor.ErrNotRanged, "no ranged key"},
		{"wsh(sortedmulti(1," + pubC + ",03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd))", descriptor.ErrNotRanged, "no ranged key"},
		{"wsh(sortedmulti(1," + xpubA + "/0/*," + xpubB + "/0))", descriptor.ErrNotRanged, "no final /*"},
		{"addr(bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu)", descriptor.ErrUnsupported, "ranged descriptor"},
		{"raw(deadbeef)", descriptor.ErrUnsupported, "ranged descriptor"},
		{"combo(" + xpubA + "/0/*)", descriptor.ErrUnsupported, "choose one of"},
		{"pk(" + xpubA + "/0/*)", descriptor.ErrUnsupported, "has no address"},
		{"sortedmulti(1," + xpubA + "/0/*)", descriptor.ErrUnsupported, "bare multisig"},
		{"tr(" + xpubA + "/0/*,pk(" + xpubB + "/0/*))", descriptor.ErrUnsupported, "script trees"},
		{"wsh(and_v(v:pk(" + xpubA + "/0/*),older(144)))", descriptor.ErrUnsupported, "only multi() and sortedmulti()"},
		{"wsh(sortedmulti(3," + xpubA + "/0/*," + xpubB + "/0/*))", descriptor.ErrMultisig, "between 1 and the number of keys (2)"},
		{"wsh(sortedmulti(2," + xpubA + "/0/*," + xpubA + "/0/*))", descriptor.ErrMultisig, "repeats key 1"},
		{"wsh(sortedmulti(2,[00000000]" + xpubA + "/<0;1>/*,[11111111]" + xpubA + "/<0;1>/*))", descriptor.ErrMultisig, "repeats key 1"},
		{"wpkh(" + xpubA + "/0/*", descriptor.ErrInvalid, "no closing ')'"},
		{"wpkh(" + xpubA + "/0/*)x", descriptor.ErrInvalid, "unexpected text after wpkh"},
		{"wpkh (" + xpubA + "/0/*)", descriptor.ErrInvalid, "expected a script expression"},
		{"foo(" + xpubA + "/0/*)", descriptor.ErrInvalid, "unknown script expression foo()"},
		{"", descriptor.ErrInvalid, "empty"},
		{"wpkh(" + xpubA + "/0/*)#", descriptor.ErrChecksum, "must be 8 characters"},
	} {
		_, err := descriptor.Parse(tc.desc)
		var de *descriptor.Error
		if !errors.Is(err, tc.kind) || !errors.As(err, &de) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s:\n got %v\nwant %v with %q", tc.desc, err, tc.kind, tc.msg)
			continue
		}
		for _, secret := range []string{xprvA[4:], tprv[4:], wif} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error quotes a private key: %v", tc.desc, err)
			}
		}
	}
}
