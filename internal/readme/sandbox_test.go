package readme

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	btcdtest.CloseShared()
	if ipndBuilt != "" {
		os.RemoveAll(filepath.Dir(ipndBuilt))
	}
	os.Exit(code)
}

var (
	ipndOnce  sync.Once
	ipndBuilt string
	ipndErr   error
)

// ipndBinary builds cmd/ipnd once for the package's tests.
func ipndBinary(t *testing.T) string {
	t.Helper()
	ipndOnce.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			ipndErr = err
			return
		}
		dir, err := os.MkdirTemp("", "ipnd-readme-bin-")
		if err != nil {
			ipndErr = err
			return
		}
		ipndBuilt = filepath.Join(dir, "ipnd")
		cmd := exec.Command("go", "build", "-o", ipndBuilt, "./cmd/ipnd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			ipndErr = errors.New("go build ./cmd/ipnd: " + err.Error() + "\n" + string(out))
		}
	})
	if ipndErr != nil {
		t.Fatal(ipndErr)
	}
	return ipndBuilt
}

// sandbox copies the repository (without .git, bin/ and local state: the
// files a fresh clone has, plus what is being worked on) to a temporary
// directory, so that examples that build, copy and write files in the
// repository, like `make build` and `cp settings.example.toml
// settings.toml`, run as printed without touching it. bin/btcd links to
// the btcd the tests use, as `make bin/btcd` would have built it.
func sandbox(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	skipDir := map[string]bool{".git": true, "bin": true, ".cache": true}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if skipDir[rel] {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		// .git may be a file (a worktree's link to its repository): a
		// copy of it would make the sandbox that worktree to git.
		if rel == ".git" || rel == "settings.toml" || rel == "ipnd" || strings.Contains(d.Name(), ".db") || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy the repository: %v", err)
	}
	if btcd, err := btcdtest.LookBinary(); err == nil {
		if err := os.MkdirAll(filepath.Join(dst, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(btcd, filepath.Join(dst, "bin", "btcd")); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// commandEnv is this process's environment without any IPND_* setting (a
// developer's own must not change what an example does); the tools'
// variables (IPND_BTCD, IPND_TEST_*, ...) stay.
func commandEnv(extra ...string) []string {
	settings := map[string]bool{}
	for _, s := range config.Settings() {
		settings[s.Env()] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !settings[name] {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// shResult is what one command line gave.
type shResult struct {
	line           string
	stdout, stderr string
	code           int
}

func (r shResult) String() string {
	return "$ " + r.line + "\n" + r.stdout + r.stderr + "(exit " + strconv.Itoa(r.code) + ")"
}

// sh runs one line of an example with sh, as a person would type it.
func sh(t *testing.T, dir string, env []string, timeout time.Duration, line string) shResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := shResult{line: line, stdout: o.String(), stderr: e.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("sh -c %q: %v", line, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s\ndid not finish within %s", r, timeout)
	}
	return r
}

// background runs one line of an example that keeps running (a server)
// with sh; stop sends SIGTERM and returns the exit status.
type background struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func startBackground(t *testing.T, dir string, env []string, line string) *background {
	t.Helper()
	// exec: the signal reaches the program itself, not a shell around it.
	cmd := exec.Command("sh", "-c", "exec "+line)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	b := &background{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = b.out, b.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.err = cmd.Wait(); close(b.done) }()
	return b
}

func (b *background) running() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// stop ends the program with SIGTERM (SIGKILL after 20 s) and returns its
// exit error.
func (b *background) stop() error {
	if !b.running() {
		return b.err
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		return b.err
	case <-time.After(20 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
		return errors.New("no exit within 20 s of SIGTERM")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

var _ io.Writer = (*syncBuffer)(nil)

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
