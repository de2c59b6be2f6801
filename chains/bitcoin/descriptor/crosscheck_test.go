package descriptor_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"

	"github.com/ipnd/ipnd/chains/bitcoin/descriptor"
)

// cosigner is a test wallet: an account key derived privately from a
// seed, and its descriptor key expression [fingerprint/path]xpub.
type cosigner struct {
	account *hdkeychain.ExtendedKey // private
	expr    string                  // "[fp/…]xpub…"
}

func newCosigner(t testing.TB, seedByte byte, path ...uint32) cosigner {
	t.Helper()
	master, err := hdkeychain.NewMaster(bytes.Repeat([]byte{seedByte}, 32), &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	account := derivePath(t, master, path...)
	pub, err := account.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	var origin strings.Builder
	origin.WriteString("[" + fingerprint(t, master))
	for _, step := range path {
		fmt.Fprintf(&origin, "/%dh", step-h)
	}
	origin.WriteString("]")
	return cosigner{account: account, expr: origin.String() + pub.String()}
}

// pubAt derives m/…/change/index from the PRIVATE account key, independently
// of the public derivation the package does.
func (c cosigner) pubAt(t testing.TB, change, index uint32) *btcec.PublicKey {
	t.Helper()
	pub, err := derivePath(t, c.account, change, index).ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

var mainnet = &chaincfg.MainNetParams

func pkhAddr(t testing.TB, pub *btcec.PublicKey) btcutil.Address {
	a, err := btcutil.NewAddressPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), mainnet)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wpkhAddr(t testing.TB, pub *btcec.PublicKey) btcutil.Address {
	a, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), mainnet)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func shAddr(t testing.TB, redeem []byte) btcutil.Address {
	a, err := btcutil.NewAddressScriptHash(redeem, mainnet)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wshAddr(t testing.TB, witness []byte) btcutil.Address {
	sum := sha256.Sum256(witness)
	a, err := btcutil.NewAddressWitnessScriptHash(sum[:], mainnet)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func trAddr(t testing.TB, pub *btcec.PublicKey) btcutil.Address {
	a, err := btcutil.NewAddressTaproot(schnorr.SerializePubKey(txscript.ComputeTaprootKeyNoScript(pub)), mainnet)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// multisig is txscript's k-of-n script over pubs, sorted first if asked.
func multisig(t testing.TB, k int, pubs []*btcec.PublicKey, sorted bool) []byte {
	t.Helper()
	if sorted {
		pubs = slices.Clone(pubs)
		slices.SortFunc(pubs, func(a, b *btcec.PublicKey) int {
			return bytes.Compare(a.SerializeCompressed(), b.SerializeCompressed())
		})
	}
	keys := make([]*btcutil.AddressPubKey, len(pubs))
	for i, p := range pubs {
		var err error
		if keys[i], err = btcutil.NewAddressPubKey(p.SerializeCompressed(), mainnet); err != nil {
			t.Fatal(err)
		}
	}
	script, err := txscript.MultiSigScript(keys, k)
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// crossIndexes are the child indexes compared with btcd's libraries.
var crossIndexes = func() []uint32 {
	var idx []uint32
	for i := uint32(0); i < 30; i++ {
		idx = append(idx, i)
	}
	return append(idx, 1000, 65535, 1<<31-1)
}()

// Every descriptor type yields, for many indexes, exactly the script btcd's
// own libraries build from keys derived privately with hdkeychain.
func TestScriptsMatchBtcdLibraries(t *testing.T) {
	single := newCosigner(t, 1, 84+h, 0+h, 0+h)
	a := newCosigner(t, 2, 48+h, 0+h, 0+h, 2+h)
	b := newCosigner(t, 3, 48+h, 0+h, 0+h, 2+h)
	c := newCosigner(t, 4, 48+h, 0+h, 0+h, 2+h)
	fixed := newCosigner(t, 5, 0).pubAt(t, 7, 7) // a fixed participant
	fixedHex := fmt.Sprintf("%x", fixed.SerializeCompressed())
	three := func(t testing.TB, change, i uint32) []*btcec.PublicKey {
		return []*btcec.PublicKey{a.pubAt(t, change, i), b.pubAt(t, change, i), c.pubAt(t, change, i)}
	}
	keys3 := a.expr + "/0/*," + b.expr + "/0/*," + c.expr + "/0/*"
	for _, tc := range []struct {
		desc      string
		typ       descriptor.Type
		threshold int
		want      func(t testing.TB, i uint32) btcutil.Address
	}{
		{"pkh(" + single.expr + "/0/*)", descriptor.PKH, 0, func(t testing.TB, i uint32) btcutil.Address {
			return pkhAddr(t, single.pubAt(t, 0, i))
		}},
		{"wpkh(" + single.expr + "/0/*)", descriptor.WPKH, 0, func(t testing.TB, i uint32) btcutil.Address {
			return wpkhAddr(t, single.pubAt(t, 0, i))
		}},
		{"sh(wpkh(" + single.expr + "/1/*))", descriptor.SHWPKH, 0, func(t testing.TB, i uint32) btcutil.Address {
			return shAddr(t, scriptOf(t, wpkhAddr(t, single.pubAt(t, 1, i))))
		}},
		{"tr(" + single.expr + "/0/*)", descriptor.TR, 0, func(t testing.TB, i uint32) btcutil.Address {
			return trAddr(t, single.pubAt(t, 0, i))
		}},
		{"wsh(multi(2," + keys3 + "))", descriptor.WSHMulti, 2, func(t testing.TB, i uint32) btcutil.Address {
			return wshAddr(t, multisig(t, 2, three(t, 0, i), false))
		}},
		{"wsh(sortedmulti(2," + keys3 + "))", descriptor.WSHSortedMulti, 2, func(t testing.TB, i uint32) btcutil.Address {
			return wshAddr(t, multisig(t, 2, three(t, 0, i), true))
		}},
		{"sh(wsh(sortedmulti(2," + keys3 + ")))", descriptor.SHWSHSortedMulti, 2, func(t testing.TB, i uint32) btcutil.Address {
			return shAddr(t, scriptOf(t, wshAddr(t, multisig(t, 2, three(t, 0, i), true))))
		}},
		{"sh(wsh(multi(3," + keys3 + ")))", descriptor.SHWSHMulti, 3, func(t testing.TB, i uint32) btcutil.Address {
			return shAddr(t, scriptOf(t, wshAddr(t, multisig(t, 3, three(t, 0, i), false))))
		}},
		{"sh(multi(1," + keys3 + "))", descriptor.SHMulti, 1, func(t testing.TB, i uint32) btcutil.Address {
			return shAddr(t, multisig(t, 1, three(t, 0, i), false))
		}},
		{"sh(sortedmulti(2," + keys3 + "))", descriptor.SHSortedMulti, 2, func(t testing.TB, i uint32) btcutil.Address {
			return shAddr(t, multisig(t, 2, three(t, 0, i), true))
		}},
		// A fixed hex participant among ranged keys, and the change branch
		// of a multipath descriptor (evaluated through WithBranch below).
		{"wsh(sortedmulti(2," + a.expr + "/<0;1>/*," + fixedHex + "," + c.expr + "/<0;1>/*))", descriptor.WSHSortedMulti, 2,
			func(t testing.TB, i uint32) btcutil.Address {
				return wshAddr(t, multisig(t, 2, []*btcec.PublicKey{a.pubAt(t, 1, i), fixed, c.pubAt(t, 1, i)}, true))
			}},
	} {
		d := mustParse(t, tc.desc)
		if d.Branches() > 1 {
			var err error
			if d, err = d.WithBranch(1); err != nil {
				t.Fatal(err)
			}
		}
		if d.Type() != tc.typ || d.Threshold() != tc.threshold {
			t.Errorf("%s: type %s, threshold %d; want %s, %d", tc.desc, d.Type(), d.Threshold(), tc.typ, tc.threshold)
		}
		for _, i := range crossIndexes {
			want := tc.want(t, i)
			got := mustScript(t, d, i)
			if !bytes.Equal(got, scriptOf(t, want)) {
				t.Fatalf("%s index %d:\n got %x\nwant %x (%s)", tc.desc, i, got, scriptOf(t, want), want)
			}
			if addr := addressOf(t, got, mainnet); addr != want.EncodeAddress() {
				t.Fatalf("%s index %d: address %s, want %s", tc.desc, i, addr, want)
			}
		}
	}
}

// sortedmulti does not depend on the order the keys are written in; multi
// does.
func TestSortedMultiIgnoresKeyOrder(t *testing.T) {
	a := newCosigner(t, 2, 48+h, 0+h, 0+h, 2+h).expr + "/0/*"
	b := newCosigner(t, 3, 48+h, 0+h, 0+h, 2+h).expr + "/0/*"
	c := newCosigner(t, 4, 48+h, 0+h, 0+h, 2+h).expr + "/0/*"
	ref := mustParse(t, "wsh(sortedmulti(2,"+a+","+b+","+c+"))")
	other := mustParse(t, "wsh(sortedmulti(2,"+c+","+a+","+b+"))")
	m1 := mustParse(t, "wsh(multi(2,"+a+","+b+","+c+"))")
	m2 := mustParse(t, "wsh(multi(2,"+c+","+a+","+b+"))")
	for i := uint32(0); i < 10; i++ {
		if !bytes.Equal(mustScript(t, ref, i), mustScript(t, other, i)) {
			t.Errorf("index %d: sortedmulti depends on key order", i)
		}
		if bytes.Equal(mustScript(t, m1, i), mustScript(t, m2, i)) {
			t.Errorf("index %d: multi ignores key order", i)
		}
	}
}

// A parsed descriptor is used from many goroutines at once (run with -race).
func TestConcurrentScripts(t *testing.T) {
	a := newCosigner(t, 2, 48+h, 0+h, 0+h, 2+h).expr + "/0/*"
	b := newCosigner(t, 3, 48+h, 0+h, 0+h, 2+h).expr + "/0/*"
	d := mustParse(t, "wsh(sortedmulti(1,"+a+","+b+"))")
	want := make([][]byte, 40)
	for i := range want {
		want[i] = mustScript(t, d, uint32(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range want {
				got, err := d.Script(uint32(i))
				if err != nil || !bytes.Equal(got, want[i]) {
					errs <- fmt.Errorf("goroutine %d index %d: %x, %v", g, i, got, err)
					return
				}
				_ = d.Keys()
				_ = d.String()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkScript(b *testing.B) {
	single := newCosigner(b, 1, 84+h, 0+h, 0+h).expr + "/0/*"
	k1 := newCosigner(b, 2, 48+h, 0+h, 0+h, 2+h).expr + "/0/*"
	k2 := newCosigner(b, 3, 48+h, 0+h, 0+h, 2+h).expr + "/0/*"
	k3 := newCosigner(b, 4, 48+h, 0+h, 0+h, 2+h).expr + "/0/*"
	for _, desc := range []string{
		"wpkh(" + single + ")",
		"tr(" + single + ")",
		"wsh(sortedmulti(2," + k1 + "," + k2 + "," + k3 + "))",
	} {
		d := mustParse(b, desc)
		b.Run(string(d.Type()), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := d.Script(uint32(i) % (1 << 31)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
