package receivertest_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// startPython runs a Python receiver with IPN_SECRET and PORT and returns
// its URL once it accepts connections.
func startPython(t *testing.T, code string) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Unavailable(t, "python3 not found")
	}
	script := filepath.Join(t.TempDir(), "receiver.py")
	if err := os.WriteFile(script, []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(py, script)
	cmd.Env = append(os.Environ(), "IPN_SECRET="+testSecret, "PORT="+port)
	cmd.Stderr = &testLog{t: t} // the receivers print a line per request
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Python receiver did not listen on %s within 30 s", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://127.0.0.1:" + port + "/ipn"
}

type testLog struct{ t *testing.T }

func (l *testLog) Write(p []byte) (int, error) {
	l.t.Logf("receiver: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestReadmePythonReceiver grades the README's receiver as printed. Until
// the README takes the proposal in testdata/receiver.py it verifies
// signatures and timestamps and echoes what it is sent, so it fails step 8
// (it echoes, and would book, the older IPN's totals) and step 9 (of two v1
// values it checks only the last); with the proposal it passes every step.
func TestReadmePythonReceiver(t *testing.T) {
	code := readmePython(t)
	proposed, err := os.ReadFile(filepath.Join("testdata", "receiver.py"))
	if err != nil {
		t.Fatal(err)
	}
	rep := run(t, startPython(t, code), receivertest.Options{})
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("the README's receiver:\n%s", text.String())
	if code == string(proposed) {
		wantOutcome(t, rep, all)
		return
	}
	wantOutcome(t, rep, []int{1, 2, 3, 4, 5, 6, 7, 10})
	if r := reasonOf(rep, 8); !strings.Contains(r, "moved the totals back") {
		t.Fatalf("step 8 reason: %s", r)
	}
	if rep.Steps[8].Status != 401 {
		t.Fatalf("step 9: HTTP %d, want 401", rep.Steps[8].Status)
	}
}

// TestProposedPythonReceiver: the receiver proposed for the README
// (testdata/receiver.py) passes every step.
func TestProposedPythonReceiver(t *testing.T) {
	code, err := os.ReadFile(filepath.Join("testdata", "receiver.py"))
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, run(t, startPython(t, string(code)), receivertest.Options{}), all)
}
