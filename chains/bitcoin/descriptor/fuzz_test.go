package descriptor_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ipnd/ipnd/chains/bitcoin/descriptor"
)

// FuzzParse: Parse never panics; every error is a *descriptor.Error with a
// kind; a parsed descriptor prints as a descriptor that parses back, with
// its checksum required, to the same text and the same scripts. The seed
// corpus (testdata/fuzz/FuzzParse and the seeds below) runs under go test;
// explore further with go test -fuzz FuzzParse.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"wpkh([d34db33f/84h/0h/0h]" + xpubA + "/0/*)",
		"wsh(sortedmulti(2," + xpubA + "/<0;1>/*," + xpubB + "/<0;1>/*," + pubC + "))",
		"sh(wsh(multi(1," + xpubA + "/0/*)))#abcdefgh",
		"tr(" + xpubA + "/0/*)",
		"sh(wpkh(" + xpubA + "/0/*))",
		"pkh(" + xprvA + "/0/*)",
		"raw(deadbeef)#89f8spxm",
		"wsh(multi(",
		"((((",
		"[]",
		"wpkh([deadbeef/0h]" + xpubA + "/<0;1;2>/3/*)",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = descriptor.Checksum(s)
		d, err := descriptor.Parse(s)
		if err != nil {
			var de *descriptor.Error
			if !errors.As(err, &de) || de.Kind == nil || de.Msg == "" {
				t.Fatalf("error %v (%T) is not a complete *descriptor.Error", err, err)
			}
			return
		}
		for b := 0; b < d.Branches() && b < 3; b++ {
			db, err := d.WithBranch(b)
			if err != nil {
				t.Fatalf("branch %d: %v", b, err)
			}
			again, err := descriptor.Parse(db.String(), descriptor.RequireChecksum())
			if err != nil {
				t.Fatalf("%q prints as %q, which does not parse: %v", s, db.String(), err)
			}
			if again.String() != db.String() {
				t.Fatalf("%q reparsed as %q", db.String(), again.String())
			}
			_ = db.Keys()
			for _, i := range []uint32{0, 1<<31 - 1} {
				s1, err1 := db.Script(i)
				s2, err2 := again.Script(i)
				if (err1 == nil) != (err2 == nil) || !bytes.Equal(s1, s2) {
					t.Fatalf("%q index %d: %x (%v) vs reparsed %x (%v)", db.String(), i, s1, err1, s2, err2)
				}
			}
		}
	})
}
