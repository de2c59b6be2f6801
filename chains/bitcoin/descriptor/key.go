package descriptor

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// keyExpr is one parsed key expression (BIP380, with BIP389 multipath).
type keyExpr struct {
	pos int // byte offset of the expression in the input

	hasOrigin   bool
	fingerprint [4]byte
	originPath  []uint32 // hardened steps carry hdkeychain.HardenedKeyStart

	// Extended keys.
	ext     *hdkeychain.ExtendedKey // as written
	extText string                  // base58 as written
	prefix  []uint32                // steps before the multipath element (or all steps)
	multi   []uint32                // multipath alternatives, nil without one
	suffix  []uint32                // steps after the multipath element
	ranged  bool                    // final /*

	// Fixed keys.
	pub   *btcec.PublicKey
	xonly bool // written as a 64-hex x-only key (inside tr only)
}

// keyContext says where a key expression appears.
type keyContext struct {
	inTaproot bool // x-only hex keys allowed
}

func (k *keyExpr) extended() bool { return k.ext != nil }

// path is the derivation below the extended key for a multipath branch,
// without the final wildcard.
func (k *keyExpr) path(branch int) []uint32 {
	p := make([]uint32, 0, len(k.prefix)+1+len(k.suffix))
	p = append(p, k.prefix...)
	if k.multi != nil {
		p = append(p, k.multi[branch])
	}
	return append(p, k.suffix...)
}

// parent derives the key the wildcard ranges over (or the final key of an
// unranged extended key) for a multipath branch.
func (k *keyExpr) parent(branch int) (*hdkeychain.ExtendedKey, error) {
	key := k.ext
	for _, step := range k.path(branch) {
		child, err := key.Derive(step)
		if err != nil {
			return nil, &Error{Pos: k.pos + 1, Kind: ErrInvalidKey,
				Msg: fmt.Sprintf("deriving step %d below the extended key: %v", step, err)}
		}
		key = child
	}
	return key, nil
}

// text renders the normalised key expression for a multipath branch:
// lowercase hex, 'h' for hardened origin steps.
func (k *keyExpr) text(branch int) string {
	if !k.hasOrigin {
		return k.body(branch)
	}
	var b strings.Builder
	b.WriteString("[")
	b.WriteString(hex.EncodeToString(k.fingerprint[:]))
	writePath(&b, k.originPath)
	b.WriteString("]")
	b.WriteString(k.body(branch))
	return b.String()
}

// body is the key expression without its origin.
func (k *keyExpr) body(branch int) string {
	switch {
	case k.extended():
		var b strings.Builder
		b.WriteString(k.extText)
		writePath(&b, k.path(branch))
		if k.ranged {
			b.WriteString("/*")
		}
		return b.String()
	case k.xonly:
		return hex.EncodeToString(schnorr.SerializePubKey(k.pub))
	default:
		return hex.EncodeToString(k.pub.SerializeCompressed())
	}
}

func writePath(b *strings.Builder, path []uint32) {
	for _, step := range path {
		b.WriteByte('/')
		if step >= hdkeychain.HardenedKeyStart {
			b.WriteString(strconv.FormatUint(uint64(step-hdkeychain.HardenedKeyStart), 10))
			b.WriteByte('h')
		} else {
			b.WriteString(strconv.FormatUint(uint64(step), 10))
		}
	}
}

// parseKey parses the key expression s found at byte offset pos.
func parseKey(s string, pos int, ctx keyContext) (*keyExpr, error) {
	k := &keyExpr{pos: pos}
	fail := func(at int, kind error, format string, args ...any) error {
		return &Error{Pos: pos + at + 1, Kind: kind, Msg: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return nil, fail(0, ErrInvalid, "a key expression is missing")
	}
	rest, restAt := s, 0
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return nil, fail(0, ErrInvalid, "key origin '[' has no closing ']'")
		}
		if err := k.parseOrigin(s[1:end], pos+1); err != nil {
			return nil, err
		}
		rest, restAt = s[end+1:], end+1
		if rest == "" {
			return nil, fail(restAt, ErrInvalid, "key origin [...] is not followed by a key")
		}
		if rest[0] == '[' {
			return nil, fail(restAt, ErrInvalid, "a key has more than one origin [...]")
		}
	}
	if i := strings.IndexAny(rest, "[]"); i >= 0 {
		return nil, fail(restAt+i, ErrInvalid, "unexpected %q: a key origin is written [fingerprint/path] before the key", rest[i])
	}
	token, steps, hasPath := strings.Cut(rest, "/")
	if err := k.parseKeyToken(token, pos+restAt, ctx); err != nil {
		return nil, err
	}
	if !k.extended() {
		if hasPath {
			return nil, fail(restAt+len(token), ErrInvalid, "a hex public key cannot be followed by a derivation path")
		}
		return k, nil
	}
	if hasPath {
		if err := k.parseSteps(steps, pos+restAt+len(token)+1); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// parseOrigin parses "fingerprint/path" inside [...], at byte offset pos.
func (k *keyExpr) parseOrigin(s string, pos int) error {
	fp, path, _ := strings.Cut(s, "/")
	if len(fp) != 8 {
		return &Error{Pos: pos + 1, Kind: ErrInvalid,
			Msg: fmt.Sprintf("the key origin fingerprint must be 8 hex characters, not %d", len(fp))}
	}
	if _, err := hex.Decode(k.fingerprint[:], []byte(fp)); err != nil {
		return &Error{Pos: pos + 1, Kind: ErrInvalid, Msg: "the key origin fingerprint is not hex"}
	}
	k.hasOrigin = true
	if len(fp) == len(s) {
		return nil
	}
	at := pos + len(fp) + 1
	for _, elem := range strings.Split(path, "/") {
		step, hardened, err := parseStep(elem, at)
		if err != nil {
			return err
		}
		if hardened {
			step += hdkeychain.HardenedKeyStart
		}
		k.originPath = append(k.originPath, step)
		at += len(elem) + 1
	}
	return nil
}

// parseStep parses one path element "NUM" or "NUMh" (also NUMH, NUM'), at
// byte offset pos. Wildcards and multipath elements are not steps.
func parseStep(elem string, pos int) (step uint32, hardened bool, err error) {
	fail := func(format string, args ...any) error {
		return &Error{Pos: pos + 1, Kind: ErrInvalid, Msg: fmt.Sprintf(format, args...)}
	}
	num := elem
	if n := len(elem); n > 0 && strings.IndexByte("hH'", elem[n-1]) >= 0 {
		num, hardened = elem[:n-1], true
	}
	switch {
	case elem == "":
		return 0, false, fail("empty derivation step (a doubled or trailing '/')")
	case strings.Contains(elem, "*"):
		return 0, false, fail("a wildcard '*' may only be the last step after an extended key")
	case strings.ContainsAny(elem, "<>;"):
		return 0, false, fail("a multipath element <a;b> may only follow an extended key")
	case num == "" || strings.Trim(num, "0123456789") != "":
		return 0, false, fail("derivation step %q is not a number (optionally followed by h, H or ' for hardened)", clip(elem))
	}
	v, perr := strconv.ParseUint(num, 10, 32)
	if perr != nil || v >= hdkeychain.HardenedKeyStart {
		return 0, false, fail("derivation step %s is out of range (at most 2147483647, with h for hardened)", clip(num))
	}
	return uint32(v), hardened, nil
}

// maxBase58Key bounds the base58 text decoded as a key (base58 decoding
// is quadratic): a BIP32 key (82 bytes) has 111 or 112 characters, a WIF
// key 51 or 52.
const maxBase58Key = 120

// parseKeyToken parses the key proper (hex or base58), at byte offset pos.
func (k *keyExpr) parseKeyToken(tok string, pos int, ctx keyContext) error {
	fail := func(kind error, format string, args ...any) error {
		return &Error{Pos: pos + 1, Kind: kind, Msg: fmt.Sprintf(format, args...)}
	}
	if tok == "" {
		return fail(ErrInvalid, "a key is missing")
	}
	if isHex(tok) {
		raw, _ := hex.DecodeString(tok)
		switch {
		case len(tok) == 66 && (tok[:2] == "02" || tok[:2] == "03"):
			pub, err := btcec.ParsePubKey(raw)
			if err != nil {
				return fail(ErrInvalidKey, "the hex public key is not a point on secp256k1: %v", err)
			}
			k.pub = pub
		case len(tok) == 64 && ctx.inTaproot:
			pub, err := schnorr.ParsePubKey(raw)
			if err != nil {
				return fail(ErrInvalidKey, "the x-only public key is not a point on secp256k1: %v", err)
			}
			k.pub, k.xonly = pub, true
		case len(tok) == 64:
			return fail(ErrInvalidKey, "a 64-character x-only public key is only allowed inside tr(); use the 66-character compressed form (02…/03…)")
		case len(tok) == 130 && tok[:2] == "04":
			return fail(ErrInvalidKey, "uncompressed public keys (04…) are not supported: use the 66-character compressed form (02…/03…)")
		case len(tok) == 64 || len(tok) == 66 || len(tok) == 130:
			return fail(ErrInvalidKey, "the hex public key has an invalid prefix %s (a compressed key starts with 02 or 03)", tok[:2])
		default:
			return fail(ErrInvalidKey, "a hex public key has 66 characters (compressed, 02…/03…), not %d", len(tok))
		}
		return nil
	}
	// BIP32 serialisation: version(4) depth(1) parent fingerprint(4)
	// child number(4) chain code(32) key(33), then a 4-byte checksum. The
	// key data of a private key starts with 0x00; look at it before
	// anything else so that a private key is named as such even when it is
	// damaged.
	if len(tok) > maxBase58Key {
		return fail(ErrInvalidKey, "not a public key (%d characters): expected an extended public key (xpub…, tpub…, Ltub…, …) "+
			"followed by /…/*, or a hex public key", len(tok))
	}
	if decoded := base58.Decode(tok); len(decoded) == 82 {
		if decoded[45] == 0x00 {
			return fail(ErrPrivateKey, "this is an extended private key (%s…); ipnd only watches, so it only needs "+
				"the extended public key: export the xpub/tpub (or Ltub/Mtub) for the same path and keep the private key offline", clip4(tok))
		}
		ext, err := hdkeychain.NewKeyFromString(tok)
		if err != nil {
			return fail(ErrInvalidKey, "the extended public key (%s…) does not decode: %v", clip4(tok), err)
		}
		if ext.IsPrivate() {
			return fail(ErrPrivateKey, "this is an extended private key; ipnd only needs the extended public key")
		}
		k.ext, k.extText = ext, tok
		return nil
	}
	if _, err := btcutil.DecodeWIF(tok); err == nil {
		return fail(ErrPrivateKey, "this is a WIF private key; ipnd only needs public keys: "+
			"put the public key (or the account's extended public key) in the descriptor and keep the private key offline")
	}
	return fail(ErrInvalidKey, "not a public key: expected an extended public key (xpub…, tpub…, Ltub…, …) "+
		"followed by /…/*, or a hex public key")
}

// parseSteps parses the derivation after an extended key ("0/*",
// "<0;1>/*", …) at byte offset pos.
func (k *keyExpr) parseSteps(s string, pos int) error {
	elems := strings.Split(s, "/")
	at := pos
	seenMulti := false
	for i, elem := range elems {
		fail := func(kind error, format string, args ...any) error {
			return &Error{Pos: at + 1, Kind: kind, Msg: fmt.Sprintf(format, args...)}
		}
		last := i == len(elems)-1
		switch {
		case elem == "*":
			if !last {
				return fail(ErrInvalid, "the wildcard '*' must be the last step")
			}
			k.ranged = true
		case len(elem) == 2 && elem[0] == '*':
			if strings.IndexByte("hH'", elem[1]) >= 0 {
				return fail(ErrHardened, "a hardened wildcard %s cannot be derived from an extended public key: "+
					"ipnd needs an unhardened /* (as in …/0/*)", elem)
			}
			return fail(ErrInvalid, "unexpected derivation step %q", elem)
		case strings.HasPrefix(elem, "<") || strings.HasSuffix(elem, ">") || strings.Contains(elem, ";"):
			if seenMulti {
				return fail(ErrInvalid, "a key may have only one multipath element <a;b;…>")
			}
			seenMulti = true
			alts, err := parseMultipath(elem, at)
			if err != nil {
				return err
			}
			k.multi = alts
		default:
			step, hardened, err := parseStep(elem, at)
			if err != nil {
				return err
			}
			if hardened {
				return fail(ErrHardened, "hardened step %s after an extended public key cannot be derived without the private key: "+
					"put the extended public key of that level in the descriptor ([fingerprint/…/%sh]xpub…)", clip(elem), strconv.FormatUint(uint64(step), 10))
			}
			if k.multi != nil {
				k.suffix = append(k.suffix, step)
			} else {
				k.prefix = append(k.prefix, step)
			}
		}
		at += len(elem) + 1
	}
	return nil
}

// parseMultipath parses "<a;b;…>" (BIP389) at byte offset pos.
func parseMultipath(elem string, pos int) ([]uint32, error) {
	fail := func(format string, args ...any) error {
		return &Error{Pos: pos + 1, Kind: ErrInvalid, Msg: fmt.Sprintf(format, args...)}
	}
	if !strings.HasPrefix(elem, "<") {
		return nil, fail("multipath element is missing its opening '<'")
	}
	if !strings.HasSuffix(elem, ">") || len(elem) < 2 {
		return nil, fail("multipath element is missing its closing '>'")
	}
	inner := elem[1 : len(elem)-1]
	if inner == "" {
		return nil, fail("empty multipath element <>")
	}
	parts := strings.Split(inner, ";")
	if len(parts) < 2 {
		return nil, fail("a multipath element needs at least two alternatives, as in <0;1>")
	}
	seen := make(map[uint32]bool, len(parts))
	alts := make([]uint32, 0, len(parts))
	at := pos + 1
	for _, part := range parts {
		if part == "" {
			return nil, &Error{Pos: at + 1, Kind: ErrInvalid, Msg: "empty alternative in a multipath element"}
		}
		step, hardened, err := parseStep(part, at)
		if err != nil {
			return nil, err
		}
		if hardened {
			return nil, &Error{Pos: at + 1, Kind: ErrHardened,
				Msg: "a hardened multipath alternative cannot be derived from an extended public key"}
		}
		if seen[step] {
			return nil, &Error{Pos: at + 1, Kind: ErrInvalid,
				Msg: fmt.Sprintf("multipath alternative %d appears twice", step)}
		}
		seen[step] = true
		alts = append(alts, step)
		at += len(part) + 1
	}
	return alts, nil
}

// childKey is the key at index of the branch whose parent is given (nil for
// fixed keys).
func (k *keyExpr) childKey(parent *hdkeychain.ExtendedKey, index uint32) (*btcec.PublicKey, error) {
	if !k.extended() {
		return k.pub, nil
	}
	key := parent
	if k.ranged {
		child, err := parent.Derive(index)
		if err != nil {
			if errors.Is(err, hdkeychain.ErrInvalidChild) {
				return nil, fmt.Errorf("child %d of the key at character %d is invalid (skip this index): %w", index, k.pos+1, err)
			}
			return nil, fmt.Errorf("deriving child %d of the key at character %d: %w", index, k.pos+1, err)
		}
		key = child
	}
	return key.ECPubKey()
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(s) > 0
}

// clip shortens user text quoted in an error message.
func clip(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// clip4 is the 4-character prefix of a key (xpub, tprv, Ltub, …): enough to
// recognise the kind, nothing secret.
func clip4(s string) string {
	if len(s) > 4 {
		return s[:4]
	}
	return s
}
