package chains

import (
	"context"
	"errors"
	"fmt"
)

// Check is one check `ipnd check-config -connect` makes: it reaches a node,
// a wallet or the ledger and says what it found. Each chain package makes
// its own from its configuration section (bitcoin.ConnectChecks,
// monero.ConnectChecks); the command runs them in order and prints one line
// per check.
type Check struct {
	// Name says what is checked: "bitcoin node 127.0.0.1:8332".
	Name string
	// Run reaches the component and returns what it found ("btcd,
	// regtest, 300 blocks"), or the failure: a *CheckFailure (see Fail)
	// says how to fix it, an error wrapping ErrNotChecked says that a check
	// it depends on failed.
	Run func(ctx context.Context) (found string, err error)
}

// CheckFailure is a failed check: what is wrong, and the fix, naming the
// setting to change. Neither may carry a secret.
type CheckFailure struct {
	Err error
	Fix string
}

func (f *CheckFailure) Error() string { return f.Err.Error() + "; fix: " + f.Fix }
func (f *CheckFailure) Unwrap() error { return f.Err }

// Fail makes a CheckFailure of err with the fix (a format string).
func Fail(err error, fix string, args ...any) error {
	return &CheckFailure{Err: err, Fix: fmt.Sprintf(fix, args...)}
}

// ErrNotChecked: the check was not made because one it depends on failed
// (the failure of that one is the line to act on).
var ErrNotChecked = errors.New("not checked")

// NotChecked says why a check was not made.
func NotChecked(why string) error { return fmt.Errorf("%w: %s", ErrNotChecked, why) }
