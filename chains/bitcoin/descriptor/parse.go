package descriptor

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// maxLen bounds the descriptor text: a 20-key multisig with origins and
// multipath steps needs about 4000 characters.
const maxLen = 16384

// Multisig key limits (BIP383): P2SH redeem scripts hold at most 15
// compressed keys, P2WSH multisig at most 20.
const (
	maxKeysSH  = 15
	maxKeysWSH = 20
)

// template is a parsed descriptor before a multipath branch is chosen.
type template struct {
	typ       Type
	threshold int // multisig only
	keys      []*keyExpr
	branches  int // multipath alternatives, 1 without multipath
}

// parse checks the character set and checksum of s and parses it, without
// requiring it to be ranged.
func parse(s string, o options) (*template, error) {
	body := strings.TrimSpace(s)
	base := strings.Index(s, body) // byte offset of body in s
	if body == "" {
		return nil, &Error{Kind: ErrInvalid, Msg: "the descriptor is empty"}
	}
	if len(body) > maxLen {
		return nil, &Error{Kind: ErrInvalid,
			Msg: fmt.Sprintf("the descriptor is %d characters long, more than the %d accepted", len(body), maxLen)}
	}
	body, sum, hasSum := strings.Cut(body, "#")
	if i := badChar(body); i >= 0 {
		return nil, &Error{Pos: base + i + 1, Kind: ErrInvalid,
			Msg: fmt.Sprintf("character %s is not allowed in a descriptor", quoteChar(body, i))}
	}
	switch {
	case hasSum:
		if err := verifyChecksum(body, sum, base+len(body)+1); err != nil {
			return nil, err
		}
	case o.requireChecksum:
		sum := checksumOf(body)
		return nil, &Error{Kind: ErrNoChecksum,
			Msg: fmt.Sprintf("the descriptor has no checksum; its checksum is #%s: after checking that it is exactly "+
				"the descriptor your wallet exported, append it (…)#%s", sum, sum)}
	}
	return parseTemplate(body, base)
}

// call is a script expression NAME(ARG,…) split into its arguments.
type call struct {
	name string
	pos  int // byte offset of the name in the input
	args []arg
}

type arg struct {
	text string
	pos  int
}

func isNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// parseCall splits s (at byte offset pos) into NAME(ARG,…), with commas
// inside nested (), {} left alone. s must end with the closing ')'.
func parseCall(s string, pos int) (call, error) {
	fail := func(at int, format string, args ...any) error {
		return &Error{Pos: pos + at + 1, Kind: ErrInvalid, Msg: fmt.Sprintf(format, args...)}
	}
	i := 0
	for i < len(s) && isNameChar(s[i]) {
		i++
	}
	if i == 0 {
		if s == "" {
			return call{}, fail(0, "a script expression such as wpkh(KEY) is missing")
		}
		return call{}, fail(0, "expected a script expression such as wpkh(KEY), found %q", clip(s))
	}
	if i == len(s) || s[i] != '(' {
		return call{}, fail(0, "expected a script expression such as wpkh(KEY), found %q", clip(s))
	}
	c := call{name: s[:i], pos: pos}
	var stack []byte
	argStart, end := i+1, -1
scan:
	for j := i; j < len(s); j++ {
		switch ch := s[j]; ch {
		case '(', '{':
			stack = append(stack, ch)
		case ')', '}':
			open := byte('(')
			if ch == '}' {
				open = '{'
			}
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return call{}, fail(j, "unbalanced %q", ch)
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				end = j
				break scan
			}
		case ',':
			if len(stack) == 1 {
				c.args = append(c.args, arg{s[argStart:j], pos + argStart})
				argStart = j + 1
			}
		}
	}
	if end < 0 {
		return call{}, fail(i, "%s( has no closing ')'", c.name)
	}
	if end != len(s)-1 {
		return call{}, fail(end+1, "unexpected text after %s(…)", c.name)
	}
	if len(c.args) > 0 || argStart < end {
		c.args = append(c.args, arg{s[argStart:end], pos + argStart})
	}
	return c, nil
}

// parseTemplate parses the descriptor body s found at byte offset pos.
func parseTemplate(s string, pos int) (*template, error) {
	c, err := parseCall(s, pos)
	if err != nil {
		return nil, err
	}
	var t *template
	switch c.name {
	case "pkh", "wpkh":
		k, err := oneKey(c, keyContext{})
		if err != nil {
			return nil, err
		}
		t = &template{typ: Type(c.name), keys: []*keyExpr{k}}
	case "tr":
		if len(c.args) > 1 {
			return nil, &Error{Pos: c.args[1].pos + 1, Kind: ErrUnsupported,
				Msg: "taproot script trees are not supported: only the key path tr(KEY) (BIP86)"}
		}
		k, err := oneKey(c, keyContext{inTaproot: true})
		if err != nil {
			return nil, err
		}
		t = &template{typ: TR, keys: []*keyExpr{k}}
	case "sh":
		if t, err = parseSH(c); err != nil {
			return nil, err
		}
	case "wsh":
		inner, err := oneScript(c)
		if err != nil {
			return nil, err
		}
		if inner.name != "multi" && inner.name != "sortedmulti" {
			return nil, misplaced(inner, "wsh")
		}
		if t, err = parseMulti(inner, maxKeysWSH, "wsh"); err != nil {
			return nil, err
		}
	default:
		return nil, misplaced(c, "")
	}
	if err := t.checkMultipath(); err != nil {
		return nil, err
	}
	return t, nil
}

// parseSH parses the argument of a top-level sh().
func parseSH(c call) (*template, error) {
	inner, err := oneScript(c)
	if err != nil {
		return nil, err
	}
	switch inner.name {
	case "wpkh":
		k, err := oneKey(inner, keyContext{})
		if err != nil {
			return nil, err
		}
		return &template{typ: SHWPKH, keys: []*keyExpr{k}}, nil
	case "multi", "sortedmulti":
		return parseMulti(inner, maxKeysSH, "sh")
	case "wsh":
		ms, err := oneScript(inner)
		if err != nil {
			return nil, err
		}
		if ms.name != "multi" && ms.name != "sortedmulti" {
			return nil, misplaced(ms, "wsh")
		}
		return parseMulti(ms, maxKeysWSH, "sh(wsh")
	}
	return nil, misplaced(inner, "sh")
}

// misplaced explains why expression c cannot appear inside parent ("" for
// the top level).
func misplaced(c call, parent string) error {
	fail := func(kind error, format string, args ...any) error {
		return &Error{Pos: c.pos + 1, Kind: kind, Msg: fmt.Sprintf(format, args...)}
	}
	ranged := "ipnd hands out a fresh address per payment, so it needs a ranged descriptor such as wpkh([fingerprint/84h/0h/0h]xpub…/0/*)"
	switch c.name {
	case "sh", "tr":
		if parent != "" {
			return fail(ErrInvalid, "%s() can only be used at the top level, not inside %s()", c.name, parent)
		}
	case "wsh":
		if parent == "wsh" {
			return fail(ErrInvalid, "wsh() cannot be nested in wsh()")
		}
	case "wpkh":
		if parent == "wsh" {
			return fail(ErrInvalid, "wpkh() cannot be used inside wsh()")
		}
	case "multi", "sortedmulti":
		if parent == "" {
			return fail(ErrUnsupported, "bare multisig has no address: use wsh(%s(…)) or sh(wsh(%s(…)))", c.name, c.name)
		}
	case "pk":
		return fail(ErrUnsupported, "pk() (pay to public key) has no address: use wpkh(), pkh(), sh(wpkh()) or tr()")
	case "pkh":
		return fail(ErrUnsupported, "pkh() inside %s() is not supported: use pkh() at the top level", parent)
	case "combo":
		return fail(ErrUnsupported, "combo() stands for several script types at once: choose one of pkh(), wpkh(), sh(wpkh()) or tr()")
	case "addr", "raw", "rawtr":
		return fail(ErrUnsupported, "%s() describes one fixed script; %s", c.name, ranged)
	case "multi_a", "sortedmulti_a", "musig":
		return fail(ErrUnsupported, "%s() (taproot multisig) is not supported", c.name)
	}
	if parent == "wsh" {
		return fail(ErrUnsupported, "%s() inside wsh() is not supported: only multi() and sortedmulti() (no miniscript)", clip(c.name))
	}
	if parent == "sh" {
		return fail(ErrUnsupported, "%s() inside sh() is not supported: use sh(wpkh(…)), sh(wsh(sortedmulti(…))) or sh(sortedmulti(…))", clip(c.name))
	}
	return fail(ErrInvalid, "unknown script expression %s(): supported are pkh, wpkh, sh(wpkh), tr, wsh(multi|sortedmulti), sh(wsh(multi|sortedmulti)) and sh(multi|sortedmulti)", clip(c.name))
}

// oneScript is the single script-expression argument of c.
func oneScript(c call) (call, error) {
	if len(c.args) != 1 {
		return call{}, &Error{Pos: c.pos + 1, Kind: ErrInvalid,
			Msg: fmt.Sprintf("%s() takes exactly one script expression, not %d arguments", c.name, len(c.args))}
	}
	a := c.args[0]
	if !strings.Contains(a.text, "(") {
		return call{}, &Error{Pos: a.pos + 1, Kind: ErrInvalid,
			Msg: fmt.Sprintf("%s() takes a script expression such as wpkh(KEY) or multi(k,KEY,…), not a key", c.name)}
	}
	return parseCall(a.text, a.pos)
}

// oneKey is the single key argument of c.
func oneKey(c call, ctx keyContext) (*keyExpr, error) {
	if len(c.args) != 1 {
		return nil, &Error{Pos: c.pos + 1, Kind: ErrInvalid,
			Msg: fmt.Sprintf("%s() takes exactly one key, not %d arguments", c.name, len(c.args))}
	}
	return keyArg(c, c.args[0], ctx)
}

func keyArg(c call, a arg, ctx keyContext) (*keyExpr, error) {
	if strings.ContainsAny(a.text, "(){}") {
		return nil, &Error{Pos: a.pos + 1, Kind: ErrInvalid,
			Msg: fmt.Sprintf("%s() takes a key here, not a script expression", c.name)}
	}
	return parseKey(a.text, a.pos, ctx)
}

// parseMulti parses multi(k,KEY,…) or sortedmulti(k,KEY,…) inside wrapper
// ("sh", "wsh" or "sh(wsh").
func parseMulti(c call, maxKeys int, wrapper string) (*template, error) {
	fail := func(pos int, format string, args ...any) error {
		return &Error{Pos: pos + 1, Kind: ErrMultisig, Msg: fmt.Sprintf(format, args...)}
	}
	if len(c.args) < 2 {
		return nil, fail(c.pos, "%s() needs a threshold and at least one key", c.name)
	}
	n := len(c.args) - 1
	if n > maxKeys {
		return nil, fail(c.pos, "%s() inside %s() takes at most %d keys, not %d", c.name, wrapper, maxKeys, n)
	}
	th := c.args[0]
	k, err := strconv.Atoi(th.text)
	if err != nil || strings.Trim(th.text, "0123456789") != "" {
		return nil, fail(th.pos, "the multisig threshold %q is not a number", clip(th.text))
	}
	if k < 1 || k > n {
		return nil, fail(th.pos, "the multisig threshold must be between 1 and the number of keys (%d), not %d", n, k)
	}
	t := &template{threshold: k}
	for _, a := range c.args[1:] {
		key, err := keyArg(c, a, keyContext{})
		if err != nil {
			return nil, err
		}
		t.keys = append(t.keys, key)
	}
	name := c.name
	switch wrapper {
	case "sh":
		t.typ = Type("sh(" + name + ")")
	case "wsh":
		t.typ = Type("wsh(" + name + ")")
	default:
		t.typ = Type("sh(wsh(" + name + "))")
	}
	return t, nil
}

// checkMultipath sets t.branches; all multipath elements must have the same
// number of alternatives (BIP389).
func (t *template) checkMultipath() error {
	t.branches = 1
	var first *keyExpr
	for _, k := range t.keys {
		if k.multi == nil {
			continue
		}
		if first == nil {
			first, t.branches = k, len(k.multi)
			continue
		}
		if len(k.multi) != len(first.multi) {
			return &Error{Pos: k.pos + 1, Kind: ErrInvalid,
				Msg: fmt.Sprintf("this key's multipath element has %d alternatives, the first one's has %d: they must match",
					len(k.multi), len(first.multi))}
		}
	}
	return nil
}

// checkRanged requires every extended key to end in /*, and at least one.
func (t *template) checkRanged() error {
	ranged := false
	for _, k := range t.keys {
		if k.extended() && !k.ranged {
			return &Error{Pos: k.pos + 1, Kind: ErrNotRanged,
				Msg: "this extended key has no final /*: ipnd derives a fresh address for each index, " +
					"so its path must end in /* (for example xpub…/0/* or xpub…/<0;1>/*)"}
		}
		ranged = ranged || k.ranged
	}
	if !ranged {
		return &Error{Kind: ErrNotRanged,
			Msg: "the descriptor has no ranged key (xpub…/0/*): it describes one fixed script, " +
				"but ipnd hands out a fresh address per payment"}
	}
	return nil
}

// descriptor evaluates t on a multipath branch: derives the keys the
// wildcards range over and renders the normalised text.
func (t *template) descriptor(branch int) (*Descriptor, error) {
	d := &Descriptor{t: t, branch: branch, parents: make([]*hdkeychain.ExtendedKey, len(t.keys))}
	seen := make(map[string]int, len(t.keys))
	for i, k := range t.keys {
		body := k.body(branch)
		if j, dup := seen[body]; dup {
			return nil, &Error{Pos: k.pos + 1, Kind: ErrMultisig,
				Msg: fmt.Sprintf("key %d repeats key %d: each multisig participant must have its own key", i+1, j+1)}
		}
		seen[body] = i
		if k.extended() {
			p, err := k.parent(branch)
			if err != nil {
				return nil, err
			}
			d.parents[i] = p
		}
	}
	d.text = t.render(branch)
	return d, nil
}

// render is the normalised descriptor text of a branch, with checksum.
func (t *template) render(branch int) string {
	// The type's name is the descriptor with its arguments left out:
	// "sh(wsh(sortedmulti))" becomes "sh(wsh(sortedmulti(" + args + ")))".
	name := string(t.typ)
	var b strings.Builder
	b.WriteString(strings.TrimRight(name, ")"))
	b.WriteString("(")
	if t.typ.IsMultisig() {
		b.WriteString(strconv.Itoa(t.threshold))
		for _, k := range t.keys {
			b.WriteString(",")
			b.WriteString(k.text(branch))
		}
	} else {
		b.WriteString(t.keys[0].text(branch))
	}
	b.WriteString(strings.Repeat(")", strings.Count(name, "(")+1))
	s := b.String()
	return s + "#" + checksumOf(s)
}
