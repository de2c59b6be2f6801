package descriptor

import (
	"encoding/hex"
	"errors"
	"regexp"
	"testing"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// evalFixed evaluates s at indexes 0..n-1 without requiring it to be ranged
// (Parse refuses fixed descriptors; the BIP vectors use many), returning
// the scripts in hex.
func evalFixed(t *testing.T, s string, n int) []string {
	t.Helper()
	tpl, err := parse(s, options{})
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	d, err := tpl.descriptor(0)
	if err != nil {
		t.Fatalf("evaluate %s: %v", s, err)
	}
	out := make([]string, n)
	for i := range out {
		script, err := d.Script(uint32(i))
		if err != nil {
			t.Fatalf("%s: Script(%d): %v", s, i, err)
		}
		out[i] = hex.EncodeToString(script)
	}
	return out
}

var xprvPattern = regexp.MustCompile(`xprv[1-9A-HJ-NP-Za-km-z]{107}`)

// neuterXprvs replaces every xprv in s by its xpub (hdkeychain Neuter): the
// BIP vectors written with private keys then describe the same scripts with
// public keys only.
func neuterXprvs(t *testing.T, s string) string {
	t.Helper()
	return xprvPattern.ReplaceAllStringFunc(s, func(xprv string) string {
		k, err := hdkeychain.NewKeyFromString(xprv)
		if err != nil {
			t.Fatalf("test vector key: %v", err)
		}
		pub, err := k.Neuter()
		if err != nil {
			t.Fatalf("neuter: %v", err)
		}
		return pub.String()
	})
}

// refusedAs asserts that s fails to parse (even without the ranged check)
// with an *Error of the given kind.
func refusedAs(t *testing.T, s string, kind error) {
	t.Helper()
	tpl, err := parse(s, options{})
	if err == nil {
		_, err = tpl.descriptor(0)
	}
	if err == nil {
		t.Errorf("%s: parsed, want %v", s, kind)
		return
	}
	var de *Error
	if !errors.As(err, &de) {
		t.Errorf("%s: error %v is not a *descriptor.Error", s, err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("%s:\n got %v\nwant kind %v", s, err, kind)
	}
}
