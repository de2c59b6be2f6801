package descriptor

import (
	"fmt"
	"strings"
)

// The descriptor checksum of BIP380: a BCH code over GF(32) with the
// generator below, fed with the position of every character in
// inputCharset (low five bits) and, after every third character, their
// three group numbers combined. It is an error-detecting code, not
// cryptography; no btcd package provides it.

// inputCharset is the descriptor character set, three groups of 32.
const inputCharset = "0123456789()[],'/*abcdefgh@:$%{}" +
	"IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~" +
	"ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "

// checksumCharset encodes the eight 5-bit checksum symbols (bech32's set).
const checksumCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// checksumLen is the number of checksum characters after '#'.
const checksumLen = 8

var checksumGenerator = [5]uint64{0xf5dee51989, 0xa9fdca3312, 0x1bab10e32d, 0x3706b1677a, 0x644d626ffd}

// inputPos maps a byte to 1 + its position in inputCharset (0: not allowed).
var inputPos = func() (t [256]uint8) {
	for i := 0; i < len(inputCharset); i++ {
		t[inputCharset[i]] = uint8(i + 1)
	}
	return t
}()

func polymodStep(c uint64, value uint64) uint64 {
	top := c >> 35
	c = (c&0x7ffffffff)<<5 ^ value
	for i, g := range checksumGenerator {
		if top>>uint(i)&1 == 1 {
			c ^= g
		}
	}
	return c
}

// badChar returns the byte offset of the first character of s outside the
// descriptor character set, or -1.
func badChar(s string) int {
	for i := 0; i < len(s); i++ {
		if inputPos[s[i]] == 0 {
			return i
		}
	}
	return -1
}

// checksumOf computes the checksum of s, which must hold only characters of
// the descriptor character set.
func checksumOf(s string) string {
	c := uint64(1)
	groups, n := uint64(0), 0
	for i := 0; i < len(s); i++ {
		v := uint64(inputPos[s[i]] - 1)
		c = polymodStep(c, v&31)
		groups = groups*3 + v>>5
		n++
		if n == 3 {
			c = polymodStep(c, groups)
			groups, n = 0, 0
		}
	}
	if n > 0 {
		c = polymodStep(c, groups)
	}
	for range checksumLen {
		c = polymodStep(c, 0)
	}
	c ^= 1
	var out [checksumLen]byte
	for i := range out {
		out[i] = checksumCharset[(c>>(5*(checksumLen-1-i)))&31]
	}
	return string(out[:])
}

// Checksum returns the 8-character BIP380 checksum of a descriptor given
// without its "#checksum" suffix (append it as desc + "#" + sum). It fails
// with ErrInvalid when desc holds a character outside the descriptor
// character set.
func Checksum(desc string) (string, error) {
	if i := badChar(desc); i >= 0 {
		return "", &Error{Pos: i + 1, Kind: ErrInvalid,
			Msg: fmt.Sprintf("character %s is not allowed in a descriptor", quoteChar(desc, i))}
	}
	return checksumOf(desc), nil
}

// quoteChar describes the (possibly multi-byte) character at byte i of s.
func quoteChar(s string, i int) string {
	r := []rune(s[i:])
	if len(r) == 0 {
		return "?"
	}
	return fmt.Sprintf("%q", r[0])
}

// verifyChecksum checks the checksum part of a descriptor (the text after
// '#', at byte offset pos of the input) against body.
func verifyChecksum(body, sum string, pos int) error {
	if len(sum) != checksumLen || strings.Trim(sum, checksumCharset) != "" {
		return &Error{Pos: pos + 1, Kind: ErrChecksum,
			Msg: fmt.Sprintf("the checksum after '#' must be %d characters of %q; the descriptor before '#' has checksum #%s",
				checksumLen, checksumCharset, checksumOf(body))}
	}
	if want := checksumOf(body); sum != want {
		return &Error{Pos: pos + 1, Kind: ErrChecksum,
			Msg: fmt.Sprintf("checksum #%s does not match the descriptor, whose checksum is #%s: "+
				"if you edited the descriptor on purpose, replace the checksum; otherwise it has a typo, export it again from the wallet",
				sum, want)}
	}
	return nil
}
