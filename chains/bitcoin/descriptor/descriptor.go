// Package descriptor parses output script descriptors (BIP380-386, with the
// BIP389 multipath form) for watching: given a descriptor over extended
// public keys, it yields the scriptPubKey at each child index of the ranged
// path. It knows no network: the same descriptor gives the same scripts on
// Bitcoin and Litecoin, and callers turn scripts into addresses with their
// chain's parameters (txscript.ExtractPkScriptAddrs, …) and check the
// extended keys' version bytes (Key.Version) against their network.
//
// Supported, over ranged keys (KEY/…/* with unhardened steps):
//
//	pkh(KEY)  wpkh(KEY)  sh(wpkh(KEY))  tr(KEY)
//	wsh(multi(k,KEY,…))  wsh(sortedmulti(k,KEY,…))       k <= n <= 20
//	sh(wsh(multi(k,KEY,…)))  sh(wsh(sortedmulti(k,KEY,…)))
//	sh(multi(k,KEY,…))  sh(sortedmulti(k,KEY,…))        k <= n <= 15
//
// A KEY is an optional origin [fingerprint/path] (h, H or ' for hardened)
// and either an extended public key followed by unhardened steps and a
// final /* (a single multipath step <a;b;…> is allowed: the descriptor
// evaluates its first alternative, the receive branch, and WithBranch gives
// the others), or, for fixed multisig participants, a compressed hex public
// key (x-only inside tr). In a multisig every extended key must be ranged;
// they all move in lockstep on the same child index.
//
// Refused, with an error saying why: private keys of any kind (ipnd only
// watches), hardened steps after an extended key and hardened wildcards
// (a public key cannot derive them), descriptors without a ranged key
// (addr, raw, fixed keys: ipnd hands out a fresh address per payment),
// combo, pk, bare multisig (no address), taproot script trees, miniscript,
// uncompressed keys and repeated keys in one multisig.
//
// The version bytes of an extended key are not interpreted: the script
// type comes from the descriptor alone. hdkeychain decodes any version, so
// SLIP-132 forms (ypub, zpub, upub, vpub, Ltub, Mtub, …) are accepted as
// they are written and are exposed through Key.Version for the caller's
// network check; Bitcoin Core accepts only xpub/tpub in descriptors, so
// String() keeps such a key as written and Core would refuse the result.
package descriptor

import (
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// Type is the shape of a descriptor's script.
type Type string

// Supported descriptor types.
const (
	PKH              Type = "pkh"
	WPKH             Type = "wpkh"
	SHWPKH           Type = "sh(wpkh)"
	TR               Type = "tr"
	SHMulti          Type = "sh(multi)"
	SHSortedMulti    Type = "sh(sortedmulti)"
	WSHMulti         Type = "wsh(multi)"
	WSHSortedMulti   Type = "wsh(sortedmulti)"
	SHWSHMulti       Type = "sh(wsh(multi))"
	SHWSHSortedMulti Type = "sh(wsh(sortedmulti))"
)

// IsMultisig reports whether t is a multi() or sortedmulti() type.
func (t Type) IsMultisig() bool { return strings.Contains(string(t), "multi") }

// Sorted reports whether t sorts its keys (sortedmulti, BIP67).
func (t Type) Sorted() bool { return strings.Contains(string(t), "sortedmulti") }

// Key describes one key expression of a parsed descriptor.
type Key struct {
	// Text is the normalised key expression (for this branch).
	Text string
	// HasOrigin says whether a key origin [fingerprint/path] was given.
	HasOrigin   bool
	Fingerprint [4]byte
	// OriginPath holds the origin's steps; hardened ones have
	// hdkeychain.HardenedKeyStart added.
	OriginPath []uint32
	// Extended is true for an extended public key, false for a fixed hex key.
	Extended bool
	// Version is the extended key's 4 version bytes as written (xpub
	// 0488b21e, tpub 043587cf, Ltub 019da462, Mtub 01b26ef6, zpub 04b24746,
	// …), comparable with chaincfg.Params.HDPublicKeyID. Zero for hex keys.
	Version [4]byte
	// Path holds the unhardened steps below the extended key for this
	// branch, without the final wildcard.
	Path []uint32
	// Ranged is true when the path ends in /*.
	Ranged bool
	// PubKey is a fixed key's serialisation (33 bytes compressed, or 32
	// bytes x-only inside tr); nil for extended keys.
	PubKey []byte
}

// Option adjusts Parse.
type Option func(*options)

type options struct {
	requireChecksum bool
}

// RequireChecksum makes Parse refuse a descriptor without "#checksum"
// (ErrNoChecksum; the message names the checksum to append).
func RequireChecksum() Option { return func(o *options) { o.requireChecksum = true } }

// Descriptor is a parsed, ranged descriptor for one multipath branch. It is
// immutable and safe for concurrent use.
type Descriptor struct {
	t       *template
	branch  int
	parents []*hdkeychain.ExtendedKey // per key: the key /* ranges over; nil for fixed keys
	text    string                    // normalised, with checksum
}

// Parse parses a descriptor. Surrounding white space is ignored. A checksum
// after '#' is verified when present; with RequireChecksum it must be
// present. The descriptor must be ranged (see the package documentation).
// A multipath descriptor (…/<0;1>/*) yields its first branch. Errors are
// *Error values wrapping one of the Err* sentinels.
func Parse(s string, opts ...Option) (*Descriptor, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t, err := parse(s, o)
	if err != nil {
		return nil, err
	}
	if err := t.checkRanged(); err != nil {
		return nil, err
	}
	return t.descriptor(0)
}

// Type is the descriptor's script type.
func (d *Descriptor) Type() Type { return d.t.typ }

// Threshold is k of a k-of-n multisig (0 for single-key types).
func (d *Descriptor) Threshold() int { return d.t.threshold }

// Keys describes the key expressions in the order written.
func (d *Descriptor) Keys() []Key {
	out := make([]Key, len(d.t.keys))
	for i, k := range d.t.keys {
		key := Key{
			Text:        k.text(d.branch),
			HasOrigin:   k.hasOrigin,
			Fingerprint: k.fingerprint,
			OriginPath:  append([]uint32(nil), k.originPath...),
			Extended:    k.extended(),
			Ranged:      k.ranged,
		}
		if k.extended() {
			copy(key.Version[:], k.ext.Version())
			key.Path = k.path(d.branch)
		} else if k.xonly {
			key.PubKey = schnorr.SerializePubKey(k.pub)
		} else {
			key.PubKey = k.pub.SerializeCompressed()
		}
		out[i] = key
	}
	return out
}

// Branches is the number of multipath alternatives (1 without multipath).
func (d *Descriptor) Branches() int { return d.t.branches }

// Branch is the multipath alternative this descriptor evaluates (0, the
// receive branch, from Parse).
func (d *Descriptor) Branch() int { return d.branch }

// WithBranch returns the descriptor evaluating multipath alternative i
// (0 <= i < Branches(); 1 is the change branch of …/<0;1>/*).
func (d *Descriptor) WithBranch(i int) (*Descriptor, error) {
	if i < 0 || i >= d.t.branches {
		return nil, fmt.Errorf("descriptor branch %d does not exist: the descriptor has %d", i, d.t.branches)
	}
	if i == d.branch {
		return d, nil
	}
	return d.t.descriptor(i)
}

// String is the normalised descriptor of this branch with its checksum:
// multipath resolved, 'h' for hardened, lowercase hex.
func (d *Descriptor) String() string { return d.text }

// Script returns the scriptPubKey at child index (index < 2^31) of the
// ranged path. The error wraps ErrIndex for an index out of range, or
// hdkeychain.ErrInvalidChild in the (< 2^-127) case that the child key is
// invalid, which BIP32 says to skip.
func (d *Descriptor) Script(index uint32) ([]byte, error) {
	if index >= hdkeychain.HardenedKeyStart {
		return nil, fmt.Errorf("%w: %d (at most %d)", ErrIndex, index, hdkeychain.HardenedKeyStart-1)
	}
	pubs := make([]*btcec.PublicKey, len(d.t.keys))
	for i, k := range d.t.keys {
		pub, err := k.childKey(d.parents[i], index)
		if err != nil {
			return nil, err
		}
		pubs[i] = pub
	}
	return d.t.build(pubs)
}
