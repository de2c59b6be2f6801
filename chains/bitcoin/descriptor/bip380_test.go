package descriptor

import (
	"errors"
	"strings"
	"testing"
)

// BIP380 checksum test vectors, plus checksums computed with the BIP's
// reference code (descsum_create) for short and unusual inputs.
func TestChecksumVectors(t *testing.T) {
	for body, want := range map[string]string{
		"raw(deadbeef)": "89f8spxm", // BIP380
		"raw(deedbeef)": "xj8ljs75",
		"":              "7h0w2xvg",
		"a":             "ywg0ausw",
		"ab":            "y064n3a6",
		"abc":           "a9q0wgyq",
		"abcd":          "hu5crsw6",
		"x{}\"\\ `~":    "lq5xm5lx",
		"wpkh([73c5da0a/84h/0h/0h]xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/0/*)": "afwvtk2s",
	} {
		got, err := Checksum(body)
		if err != nil || got != want {
			t.Errorf("Checksum(%q) = %q, %v; want %q", body, got, err, want)
		}
	}
	if _, err := Checksum("raw(Ü)"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Checksum of a non-descriptor character: %v, want ErrInvalid", err)
	}
}

// Every single-character substitution of a descriptor is caught by its
// checksum (BIP380: any 1 symbol error is detected).
func TestChecksumDetectsEverySubstitution(t *testing.T) {
	body := "wpkh([d34db33f/84h/0h/0h]xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/0/*)"
	sum := checksumOf(body)
	for i := 0; i < len(body); i++ {
		for j := 0; j < len(inputCharset); j++ {
			c := inputCharset[j]
			if c == body[i] || c == '#' {
				continue
			}
			changed := body[:i] + string(c) + body[i+1:]
			if checksumOf(changed) == sum {
				t.Fatalf("substituting %q at %d keeps checksum %s", c, i, sum)
			}
		}
	}
}

func TestParseChecksumBIP380(t *testing.T) {
	// The checksum is checked before the expression: raw() is unsupported,
	// so a good checksum gets as far as that refusal.
	for _, tc := range []struct {
		in   string
		kind error
	}{
		{"raw(deadbeef)#89f8spxm", ErrUnsupported}, // valid checksum
		{"raw(deadbeef)", ErrUnsupported},          // no checksum
		{"raw(deadbeef)#", ErrChecksum},            // missing checksum
		{"raw(deadbeef)#89f8spxmx", ErrChecksum},   // too long
		{"raw(deadbeef)#89f8spx", ErrChecksum},     // too short
		{"raw(deedbeef)#89f8spxm", ErrChecksum},    // error in payload
		{"raw(deedbeef)##9f8spxm", ErrChecksum},    // error in checksum
		{"raw(Ü)#00000000", ErrInvalid},            // invalid character
	} {
		refusedAs(t, tc.in, tc.kind)
	}
}

func TestRequireChecksum(t *testing.T) {
	const body = "wpkh([73c5da0a/84h/0h/0h]xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/0/*)"
	_, err := Parse(body, RequireChecksum())
	if !errors.Is(err, ErrNoChecksum) || !strings.Contains(err.Error(), "#afwvtk2s") {
		t.Errorf("missing checksum: %v; want ErrNoChecksum naming #afwvtk2s", err)
	}
	if _, err := Parse(body); err != nil {
		t.Errorf("checksum optional by default: %v", err)
	}
	if _, err := Parse(body+"#afwvtk2s", RequireChecksum()); err != nil {
		t.Errorf("with checksum: %v", err)
	}
	_, err = Parse(body+"#afwvtk2z", RequireChecksum())
	var de *Error
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "#afwvtk2s") ||
		!errors.As(err, &de) || de.Pos != len(body)+2 {
		t.Errorf("wrong checksum: %v; want ErrChecksum at character %d naming #afwvtk2s", err, len(body)+2)
	}
	// Surrounding white space is ignored, and positions count from the
	// string as given.
	_, err = Parse("  \t"+body+"#afwvtk2z\n", RequireChecksum())
	if !errors.As(err, &de) || de.Pos != len(body)+5 {
		t.Errorf("position with leading white space: %v, want character %d", err, len(body)+5)
	}
}

const (
	bip380Pub  = "0260b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce600"
	bip380Xpub = "xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL"
	bip380Xprv = "xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc"
	// bip32Xprv and its public key bip32Xpub (the BIP32 test vector 2 master).
	bip32Xprv = "xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U"
	bip32Xpub = "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB"
)

// BIP380 key expression vectors, as arguments of wpkh(): the public ones
// parse, the private ones are refused as private, hardened steps after an
// extended key as ErrHardened.
func TestKeyExpressionsBIP380(t *testing.T) {
	if got := neuterXprvs(t, bip380Xprv); got != bip380Xpub {
		t.Fatalf("vector keys: %s neuters to %s, want %s", bip380Xprv, got, bip380Xpub)
	}
	if got := neuterXprvs(t, bip32Xprv); got != bip32Xpub {
		t.Fatalf("vector keys: %s neuters to %s, want %s", bip32Xprv, got, bip32Xpub)
	}
	valid := []string{
		bip380Pub,
		"[deadbeef/0h/0h/0h]" + bip380Pub,
		"[deadbeef/0'/0'/0']" + bip380Pub,
		"[deadbeef/0'/0h/0']" + bip380Pub,
		// BIP380 lists [deadbeef/0H/0H/0H] among the invalid expressions,
		// but its specification allows H as a hardened indicator; we follow
		// the specification.
		"[deadbeef/0H/0H/0H]" + bip380Pub,
		bip380Xpub,
		"[deadbeef/0h/1h/2h]" + bip380Xpub,
		"[deadbeef/0h/1h/2h]" + bip380Xpub + "/3/4/5",
		"[deadbeef/0h/1h/2h]" + bip380Xpub + "/3/4/5/*",
	}
	for _, key := range valid {
		if _, err := parse("wpkh("+key+")", options{}); err != nil {
			t.Errorf("valid key %s: %v", key, err)
		}
	}
	refused := []struct {
		key  string
		kind error
	}{
		{"04a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd5b8dec5235a0fa8722476c7709c02559e3aa73aa03918ba2d492eea75abea235", ErrInvalidKey},
		{"5KYZdUEo39z3FPrtuX2QbbwGnNP5zTd7yyr2SC1j299sBCnWjss", ErrPrivateKey},
		{"L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1", ErrPrivateKey},
		{bip380Xpub + "/3h/4h/5h/*", ErrHardened},
		{bip380Xpub + "/3h/4h/5h/*h", ErrHardened},
		{"[deadbeef/0h/1h/2]" + bip380Xpub + "/3h/4h/5h/*h", ErrHardened},
		{bip380Xpub + "/3/4/5/*'", ErrHardened},
		{bip380Xprv, ErrPrivateKey},
		{"[deadbeef/0h/1h/2h]" + bip380Xprv, ErrPrivateKey},
		{"[deadbeef/0h/1h/2h]" + bip380Xprv + "/3/4/5", ErrPrivateKey},
		{"[deadbeef/0h/1h/2h]" + bip380Xprv + "/3/4/5/*", ErrPrivateKey},
		{bip380Xprv + "/3h/4h/5h/*", ErrPrivateKey},
		{bip380Xprv + "/3h/4h/5h/*h", ErrPrivateKey},
		{"[deadbeef/0h/1h/2]" + bip380Xprv + "/3h/4h/5h/*h", ErrPrivateKey},
		// The invalid expressions.
		{"[deadbeef/0h/0h/0h/*]" + bip380Pub, ErrInvalid},
		{"[deadbeef/0h/0h/0h/]" + bip380Pub, ErrInvalid},
		{"[deadbef/0h/0h/0h]" + bip380Pub, ErrInvalid},
		{"[deadbeeef/0h/0h/0h]" + bip380Pub, ErrInvalid},
		{"[deadbeef/0f/0f/0f]" + bip380Pub, ErrInvalid},
		{"[deadbeef/-0/-0/-0]" + bip380Pub, ErrInvalid},
		{"L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1/0", ErrPrivateKey},
		{"L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1/*", ErrPrivateKey},
		{bip32Xprv + "/2147483648", ErrPrivateKey},
		{bip32Xpub + "/2147483648", ErrInvalid}, // the same with the public key
		{bip32Xpub + "/1aa", ErrInvalid},
		{"[aaaaaaaa][aaaaaaaa]" + bip32Xpub + "/2147483647'/0", ErrInvalid},
		{"aaaaaaaa]" + bip32Xpub + "/2147483647'/0", ErrInvalid},
		{"[gaaaaaaa]" + bip32Xpub + "/2147483647'/0", ErrInvalid},
		{"[deadbeef]", ErrInvalid},
		// More of ours.
		{bip380Pub + "/0", ErrInvalid},
		{bip380Xpub + "//0/*", ErrInvalid},
		{bip380Xpub + "/0/*/1", ErrInvalid},
		{bip380Xpub + "/0/", ErrInvalid},
		{strings.Replace(bip380Xpub, "L", "M", 1) + "/0/*", ErrInvalidKey},                  // base58 checksum
		{"a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd", ErrInvalidKey}, // x-only outside tr
		{"0560b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce600", ErrInvalidKey},
		{"0260b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce6", ErrInvalidKey},
		{"notakey", ErrInvalidKey},
		{"", ErrInvalid},
	}
	for _, tc := range refused {
		refusedAs(t, "wpkh("+tc.key+")", tc.kind)
	}
}

// Errors say where: the position points at the offending part.
func TestErrorPositions(t *testing.T) {
	for _, tc := range []struct {
		in  string
		pos int
	}{
		{"wpkh([deadbef]" + bip380Pub + ")", 7},
		{"wpkh(" + bip380Xpub + "/0/1h/*)", 5 + len(bip380Xpub) + 4},
		{"wsh(sortedmulti(2," + bip380Xpub + "/0/*," + bip380Xprv + "/0/*))", 18 + len(bip380Xpub) + 5 + 1},
		{"sh(wsh(foo(1)))", 8},
		{"wpkh(" + bip380Xpub + "/0/*))", 5 + len(bip380Xpub) + 5 + 1},
	} {
		_, err := parse(tc.in, options{})
		var de *Error
		if !errors.As(err, &de) || de.Pos != tc.pos {
			t.Errorf("%s: %v; want position %d", tc.in, err, tc.pos)
		}
	}
}
