package zmqsub

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
)

// mainnetGenesis is the genesis block hash as RPC (getblockhash 0) and
// explorers display it.
const mainnetGenesis = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"

// coreHashBody is what Bitcoin Core puts in a hashblock/hashtx frame for a
// hash displayed as display: the display-order bytes (it reverses the
// internal order before sending).
func coreHashBody(t *testing.T, display string) []byte {
	t.Helper()
	b, err := hex.DecodeString(display)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseHashByteOrder(t *testing.T) {
	body := coreHashBody(t, mainnetGenesis)
	h, err := ParseHash(body)
	if err != nil {
		t.Fatal(err)
	}
	if h != *chaincfg.MainNetParams.GenesisHash {
		t.Fatalf("ParseHash gave internal bytes %x, want chaincfg's genesis %x", h[:], chaincfg.MainNetParams.GenesisHash[:])
	}
	if h.String() != mainnetGenesis {
		t.Fatalf("String() = %s, want the display form %s", h, mainnetGenesis)
	}
	// Internal order starts with the display form's last byte.
	if h[0] != 0x6f || h[31] != 0x00 {
		t.Fatalf("internal order wrong: first byte %02x, last %02x", h[0], h[31])
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := ParseHash(make([]byte, n)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseHash(%d bytes) error = %v, want ErrMalformed", n, err)
		}
	}
}

func sequenceBody(t *testing.T, display string, label byte, mempoolSeq *uint64) []byte {
	b := append(coreHashBody(t, display), label)
	if mempoolSeq != nil {
		b = binary.LittleEndian.AppendUint64(b, *mempoolSeq)
	}
	return b
}

func TestParseSequence(t *testing.T) {
	seq := uint64(0x0102030405060708)
	for _, label := range []SequenceLabel{BlockConnected, BlockDisconnected} {
		e, err := ParseSequence(sequenceBody(t, mainnetGenesis, byte(label), nil))
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if e.Label != label || e.Hash.String() != mainnetGenesis || !e.IsBlock() || e.MempoolSequence != 0 {
			t.Fatalf("%s: got %+v", label, e)
		}
	}
	for _, label := range []SequenceLabel{TxAdded, TxRemoved} {
		e, err := ParseSequence(sequenceBody(t, mainnetGenesis, byte(label), &seq))
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if e.Label != label || e.Hash.String() != mainnetGenesis || e.IsBlock() || e.MempoolSequence != seq {
			t.Fatalf("%s: got %+v", label, e)
		}
	}
	bad := map[string][]byte{
		"empty":              nil,
		"hash only":          coreHashBody(t, mainnetGenesis),
		"unknown label":      sequenceBody(t, mainnetGenesis, 'X', nil),
		"connect with seq":   sequenceBody(t, mainnetGenesis, 'C', &seq),
		"added without seq":  sequenceBody(t, mainnetGenesis, 'A', nil),
		"removed short seq":  append(sequenceBody(t, mainnetGenesis, 'R', nil), 1, 2, 3),
		"added trailing":     append(sequenceBody(t, mainnetGenesis, 'A', &seq), 0),
		"short hash + label": append(make([]byte, 31), 'C'),
	}
	for name, body := range bad {
		if _, err := ParseSequence(body); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error = %v, want ErrMalformed", name, err)
		}
	}
}

func TestSplitCore(t *testing.T) {
	topic, body, seq, err := splitCore([][]byte{[]byte("rawtx"), {1, 2}, {0x2a, 0, 0, 1}})
	if err != nil || topic != "rawtx" || len(body) != 2 || seq != 0x0100002a {
		t.Fatalf("got %q %x %#x %v", topic, body, seq, err)
	}
	for _, frames := range [][][]byte{
		nil,
		{[]byte("rawtx"), {1}},
		{[]byte("rawtx"), {1}, {1, 2, 3}},
		{[]byte("rawtx"), {1}, {1, 2, 3, 4}, {5}},
	} {
		if _, _, _, err := splitCore(frames); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d frames: error = %v, want ErrMalformed", len(frames), err)
		}
	}
}

func TestSeqTracker(t *testing.T) {
	var tr seqTracker
	steps := []struct {
		topic   string
		seq     uint32
		verdict seqVerdict
		missed  uint32
	}{
		{"hashblock", 7, seqFirst, 0},
		{"hashblock", 8, seqInOrder, 0},
		{"rawtx", 100, seqFirst, 0}, // topics count separately
		{"hashblock", 11, seqGap, 2},
		{"rawtx", 101, seqInOrder, 0},
		{"hashblock", 0, seqRestarted, 0},
		{"hashblock", 1, seqInOrder, 0},
		{"hashblock", 1, seqRestarted, 0}, // a repeat is not progress
		{"rawtx", 1<<31 + 100, seqGap, 1<<31 - 2},
		{"rawtx", 1<<31 + 50, seqRestarted, 0}, // behind (mod 2^32) is going back
		{"rawtx", 1<<31 + 99, seqGap, 48},
		{"rawtx", math.MaxUint32, seqGap, math.MaxUint32 - (1<<31 + 100)},
		{"rawtx", 0, seqInOrder, 0}, // wraps
	}
	for i, s := range steps {
		v, missed := tr.observe(s.topic, s.seq)
		if v != s.verdict || missed != s.missed {
			t.Fatalf("step %d (%s %d): verdict %d missed %d, want %d %d", i, s.topic, s.seq, v, missed, s.verdict, s.missed)
		}
	}
}

func FuzzParseSequence(f *testing.F) {
	f.Add(append(make([]byte, 32), 'C'))
	f.Add(append(make([]byte, 32), 'A', 1, 2, 3, 4, 5, 6, 7, 8))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParseSequence(body)
		if err == nil && e.IsBlock() != (len(body) == 33) {
			t.Fatalf("accepted %d bytes as %+v", len(body), e)
		}
	})
}
