package zmqsub

import (
	"errors"
	"strings"
	"testing"
)

// Bodies as monerod 0.18 published them on regtest here (the txpool one with
// the txid of a relayed transfer).
const (
	sampleChainMain = `{"first_height":2,"first_prev_id":"71a58b948551cb6a38fa0a46e2498187934cf8ae2468ac98e71220172dbfd049","ids":["18274b8377bed9252cb7ccb6c7b91da0ebd997acde2dd59cafb3a2b032a460ad"]}`
	sampleTxPoolAdd = `[{"id":"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","blob_size":1531,"weight":1531,"fee":30600000}]`
	zeroHash        = "0000000000000000000000000000000000000000000000000000000000000000"
)

func TestParseMoneroChainMain(t *testing.T) {
	c, err := ParseMoneroChainMain([]byte(sampleChainMain))
	if err != nil {
		t.Fatal(err)
	}
	if c.FirstHeight != 2 || c.TipHeight() != 2 || len(c.IDs) != 1 ||
		c.IDs[0] != "18274b8377bed9252cb7ccb6c7b91da0ebd997acde2dd59cafb3a2b032a460ad" ||
		c.FirstPrevID != "71a58b948551cb6a38fa0a46e2498187934cf8ae2468ac98e71220172dbfd049" {
		t.Fatalf("got %+v", c)
	}
	upper := `{"first_height":10,"first_prev_id":"` + strings.ToUpper(zeroHash[:62]) + `AB","ids":["` + zeroHash + `","` + strings.Repeat("Ff", 32) + `"],"extra":{"x":[1,2]}}`
	c, err = ParseMoneroChainMain([]byte(upper))
	if err != nil {
		t.Fatal(err)
	}
	if c.TipHeight() != 11 || c.IDs[1] != strings.Repeat("ff", 32) || !strings.HasSuffix(c.FirstPrevID, "ab") {
		t.Fatalf("got %+v", c)
	}

	bad := map[string]string{
		"not json":            `{`,
		"array":               `[]`,
		"null":                `null`,
		"no height":           `{"first_prev_id":"` + zeroHash + `","ids":["` + zeroHash + `"]}`,
		"negative height":     `{"first_height":-1,"first_prev_id":"` + zeroHash + `","ids":["` + zeroHash + `"]}`,
		"fractional height":   `{"first_height":1.5,"first_prev_id":"` + zeroHash + `","ids":["` + zeroHash + `"]}`,
		"height as string":    `{"first_height":"1","first_prev_id":"` + zeroHash + `","ids":["` + zeroHash + `"]}`,
		"height over uint64":  `{"first_height":18446744073709551616,"first_prev_id":"` + zeroHash + `","ids":["` + zeroHash + `"]}`,
		"height over int64":   `{"first_height":9223372036854775807,"first_prev_id":"` + zeroHash + `","ids":["` + zeroHash + `"]}`,
		"no ids":              `{"first_height":1,"first_prev_id":"` + zeroHash + `","ids":[]}`,
		"ids null":            `{"first_height":1,"first_prev_id":"` + zeroHash + `","ids":null}`,
		"short id":            `{"first_height":1,"first_prev_id":"` + zeroHash + `","ids":["abcd"]}`,
		"non-hex id":          `{"first_height":1,"first_prev_id":"` + zeroHash + `","ids":["` + strings.Repeat("zz", 32) + `"]}`,
		"id as number":        `{"first_height":1,"first_prev_id":"` + zeroHash + `","ids":[5]}`,
		"missing prev":        `{"first_height":1,"ids":["` + zeroHash + `"]}`,
		"deep nesting":        `{"first_height":1,"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
		"too big":             `{"first_height":1,"pad":"` + strings.Repeat("a", MaxMoneroJSON) + `"}`,
		"ids of wrong length": `{"first_height":1,"first_prev_id":"` + zeroHash + `","ids":["` + zeroHash + `0"]}`,
	}
	for name, body := range bad {
		if _, err := ParseMoneroChainMain([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error = %v, want ErrMalformed", name, err)
		}
	}
}

func TestParseMoneroTxPoolAdd(t *testing.T) {
	txs, err := ParseMoneroTxPoolAdd([]byte(sampleTxPoolAdd))
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != 1 || txs[0].ID != "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90" ||
		txs[0].BlobSize != 1531 || txs[0].Weight != 1531 || txs[0].Fee != 30600000 {
		t.Fatalf("got %+v", txs)
	}
	txs, err = ParseMoneroTxPoolAdd([]byte(`[]`))
	if err != nil || len(txs) != 0 {
		t.Fatalf("empty: %v %v", txs, err)
	}
	// Unknown fields and missing sizes are tolerated; the id is what matters.
	txs, err = ParseMoneroTxPoolAdd([]byte(`[{"id":"` + zeroHash + `","new_field":{"a":1}}]`))
	if err != nil || len(txs) != 1 || txs[0].Fee != 0 {
		t.Fatalf("lenient: %+v %v", txs, err)
	}

	bad := map[string]string{
		"object":        `{"id":"` + zeroHash + `"}`,
		"no id":         `[{"fee":1}]`,
		"null id":       `[{"id":null}]`,
		"short id":      `[{"id":"00"}]`,
		"negative fee":  `[{"id":"` + zeroHash + `","fee":-1}]`,
		"fee overflow":  `[{"id":"` + zeroHash + `","fee":18446744073709551616}]`,
		"float weight":  `[{"id":"` + zeroHash + `","weight":1e3}]`,
		"string size":   `[{"id":"` + zeroHash + `","blob_size":"1"}]`,
		"entry not obj": `[1]`,
		"truncated":     `[{"id":"` + zeroHash,
		"too big":       `[` + strings.Repeat(`{"id":"`+zeroHash+`"},`, MaxMoneroJSON/70) + `{"id":"` + zeroHash + `"}]`,
	}
	for name, body := range bad {
		if _, err := ParseMoneroTxPoolAdd([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error = %v, want ErrMalformed", name, err)
		}
	}
}

func TestSplitMonero(t *testing.T) {
	topic, body, err := splitMonero([][]byte{[]byte(TopicMoneroChainMain + ":" + sampleChainMain)})
	if err != nil || topic != TopicMoneroChainMain || string(body) != sampleChainMain {
		t.Fatalf("got %q %q %v", topic, body, err)
	}
	for _, frames := range [][][]byte{nil, {[]byte("no-colon")}, {[]byte("a:1"), []byte("b")}} {
		if _, _, err := splitMonero(frames); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: error = %v, want ErrMalformed", frames, err)
		}
	}
}

func FuzzParseMonero(f *testing.F) {
	f.Add([]byte(sampleChainMain))
	f.Add([]byte(sampleTxPoolAdd))
	f.Fuzz(func(t *testing.T, body []byte) {
		if c, err := ParseMoneroChainMain(body); err == nil && (len(c.IDs) == 0 || len(c.FirstPrevID) != 64) {
			t.Fatalf("accepted %+v", c)
		}
		if txs, err := ParseMoneroTxPoolAdd(body); err == nil {
			for _, tx := range txs {
				if len(tx.ID) != 64 {
					t.Fatalf("accepted %+v", tx)
				}
			}
		}
	})
}
