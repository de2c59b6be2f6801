package receivertest_test

import (
	"strings"
	"testing"

	"github.com/ipnd/ipnd/internal/readme"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ipn/receivertest"
)

// readmePython is the README's Python receiver as printed (the example
// python-receiver, which ipn.TestReadmePythonReceiver runs too).
func readmePython(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readme.All(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := readme.Find(blocks, "python-receiver")
	if err != nil {
		t.Fatal(err)
	}
	return b.Text
}

type testLog struct{ t *testing.T }

func (l *testLog) Write(p []byte) (int, error) {
	l.t.Logf("receiver: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestReadmePythonReceiver: the README's Python receiver, run as printed,
// passes every step (one run of it: the proposal it replaced, and the test
// of the older version's failures, are gone with the README's update).
func TestReadmePythonReceiver(t *testing.T) {
	rep := run(t, readme.StartPythonReceiver(t, readmePython(t), testSecret, &testLog{t: t}), receivertest.Options{})
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("the README's receiver:\n%s", text.String())
	wantOutcome(t, rep, all)
}
