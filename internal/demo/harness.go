package main

import (
	"fmt"
	"os"
	"sync"
)

// harness lets the demo use the btcdtest regtest harness outside a test: it
// implements btcdtest.TB. Fatal panics with a fatal value that run recovers
// into an error, so it must only be used on run's goroutine. Temporary
// directories are made under dir; close runs the cleanups (last first) and
// removes dir.
type harness struct {
	dir string

	mu       sync.Mutex
	cleanups []func()
}

// fatal is the panic value of harness.Fatal.
type fatal struct{ msg string }

func newHarness() (*harness, error) {
	dir, err := os.MkdirTemp("", "ipnd-demo-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	return &harness{dir: dir}, nil
}

func (h *harness) Helper()                           {}
func (h *harness) Fatal(args ...any)                 { panic(fatal{fmt.Sprint(args...)}) }
func (h *harness) Fatalf(format string, args ...any) { panic(fatal{fmt.Sprintf(format, args...)}) }
func (h *harness) Skip(args ...any)                  { h.Fatal(args...) }

func (h *harness) Cleanup(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleanups = append(h.cleanups, f)
}

func (h *harness) TempDir() string {
	d, err := os.MkdirTemp(h.dir, "tmp-")
	if err != nil {
		h.Fatalf("temporary directory: %v", err)
	}
	return d
}

// close runs the cleanups, last registered first, and removes dir.
func (h *harness) close() {
	for {
		h.mu.Lock()
		n := len(h.cleanups)
		if n == 0 {
			h.mu.Unlock()
			break
		}
		f := h.cleanups[n-1]
		h.cleanups = h.cleanups[:n-1]
		h.mu.Unlock()
		f()
	}
	_ = os.RemoveAll(h.dir)
}
