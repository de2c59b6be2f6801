package descriptor

import (
	"errors"
	"fmt"
)

// Errors callers can test with errors.Is. Every error Parse returns is an
// *Error wrapping exactly one of them; Script returns ErrIndex or a wrapped
// hdkeychain error.
var (
	// ErrInvalid: the text is not a valid descriptor (BIP380-386, BIP389):
	// bad syntax, a character outside the descriptor character set, an
	// expression where it may not appear (wpkh inside wsh, tr inside sh, …).
	ErrInvalid = errors.New("invalid descriptor")
	// ErrChecksum: the checksum after '#' is malformed or does not match.
	ErrChecksum = errors.New("wrong descriptor checksum")
	// ErrNoChecksum: no checksum, and the caller requires one.
	ErrNoChecksum = errors.New("descriptor checksum missing")
	// ErrPrivateKey: the descriptor holds a private key (xprv, tprv, any
	// private extended key, WIF).
	ErrPrivateKey = errors.New("private key in descriptor")
	// ErrHardened: a hardened step after an extended key (including a
	// hardened wildcard), which a public key cannot derive.
	ErrHardened = errors.New("hardened derivation after an extended public key")
	// ErrInvalidKey: a key expression that does not decode to a usable
	// public key (bad base58 checksum, not on the curve, uncompressed, …).
	ErrInvalidKey = errors.New("invalid key")
	// ErrNotRanged: the descriptor has no ranged key (…/*), or an extended
	// key that is not ranged; ipnd hands out a fresh address per index.
	ErrNotRanged = errors.New("descriptor is not ranged")
	// ErrMultisig: a multi()/sortedmulti() threshold or key count is out of
	// range, or a key is repeated.
	ErrMultisig = errors.New("invalid multisig")
	// ErrUnsupported: valid descriptor language this package does not
	// evaluate (combo, addr, raw, pk, bare multisig, taproot script trees,
	// miniscript, …).
	ErrUnsupported = errors.New("unsupported descriptor")
	// ErrIndex: Script was asked for a child index >= 2^31.
	ErrIndex = errors.New("child index out of range")
)

// Error is a descriptor error tied to a place in the text. It never quotes a
// key, so it may be logged even when the descriptor holds a private key.
type Error struct {
	// Pos is the 1-based character position in the string given to Parse
	// (0 when the error concerns the whole descriptor).
	Pos int
	// Kind is one of the Err* values of this package.
	Kind error
	// Msg says what is wrong and how to fix it.
	Msg string
}

func (e *Error) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("descriptor, at character %d: %s", e.Pos, e.Msg)
	}
	return "descriptor: " + e.Msg
}

// Unwrap makes errors.Is(err, ErrPrivateKey) and friends work.
func (e *Error) Unwrap() error { return e.Kind }
