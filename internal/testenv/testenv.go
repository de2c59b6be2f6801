// Package testenv decides what a test does when a real component it needs
// (a database server, btcd, monerod) is not available: plain `go test` skips
// with the reason, `make test` (IPND_REQUIRE_INTEGRATION=1) fails instead, so
// no integration test is ever silently skipped there.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RequireEnv is the variable make test sets.
const RequireEnv = "IPND_REQUIRE_INTEGRATION"

// Required reports whether integration tests must run.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Unavailable skips t, or fails it under make test, saying what is missing.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("integration test cannot run: "+format+" (make test provides it; see README)", args...)
	}
	t.Skipf("integration test skipped: "+format+" (run make test to provide it)", args...)
}

// RepoRoot is the module's root directory: the nearest directory at or
// above the working directory that holds go.mod (tests run in their
// package's directory; tools from the repository root).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
