package readme

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/internal/testenv"
)

// StartPythonReceiver runs code, a Python receiver that listens on
// 127.0.0.1:$PORT and verifies with $IPN_SECRET (the README's example
// python-receiver, as printed), and returns its URL (/ipn) once it
// listens; it is killed when t ends, and writes its log to stderr.
//
// The port is one that was free a moment ago; another process may take it
// before the receiver binds it. So the receiver must be seen listening on
// it itself (its process owns the listening socket: /proc), else it is
// started again on another port.
func StartPythonReceiver(t testing.TB, code, secret string, stderr io.Writer) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Unavailable(t, "python3 not found")
	}
	script := filepath.Join(t.TempDir(), "receiver.py")
	if err := os.WriteFile(script, []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	for try := 1; ; try++ {
		port := testenv.FreePort(t)
		cmd := exec.Command(py, script)
		cmd.Env = append(os.Environ(), "IPN_SECRET="+secret, "PORT="+strconv.Itoa(port))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-exited })
		deadline := time.Now().Add(30 * time.Second)
		for {
			if listensOn(cmd.Process.Pid, port) {
				return fmt.Sprintf("http://127.0.0.1:%d/ipn", port)
			}
			select {
			case <-exited:
			default:
				if time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				t.Fatalf("the Python receiver did not listen on port %d within 30 s", port)
			}
			break // it exited: the port was taken in between
		}
		if try == 5 {
			t.Fatalf("the Python receiver exited at start %d times (ports taken, or a broken script)", try)
		}
	}
}

// listensOn reports whether process pid holds a socket listening on TCP
// port (IPv4) of 127.0.0.1 or any address.
func listensOn(pid, port int) bool {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// sl local_address rem_address st ... inode (field 9); st 0A is LISTEN
		if len(fs) > 9 && strings.HasSuffix(fs[1], want) && fs[3] == "0A" {
			inodes["socket:["+fs[9]+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return false
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[link] {
			return true
		}
	}
	return false
}
