// Package testenv decides what a test does when a real component it needs
// (a database server, btcd, monerod) is not available: plain `go test` skips
// with the reason, `make test` (IPND_REQUIRE_INTEGRATION=1) fails instead, so
// no integration test is ever silently skipped there.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
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

// RepoRoot is the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
