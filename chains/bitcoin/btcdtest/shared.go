package btcdtest

import (
	"fmt"
	"os"
	"sync"
)

// sharedBlocks is the height of the shared node at start: the first 200
// coinbases are mature, enough for the payments of many tests.
const sharedBlocks = 300

var shared struct {
	once sync.Once
	tb   *mainTB
	node *Node
	err  error
}

// Shared returns the package's node, started by the first test that asks
// and mined to height 300 (200 mature coinbases of its wallet), as a view
// that fails t (see For). The tests sharing
// it see each other's blocks and transactions: they look only at their own
// (fresh addresses, their own txids) and leave no partition behind. Call
// CloseShared from TestMain after m.Run:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		btcdtest.CloseShared()
//		os.Exit(code)
//	}
//
// Without a btcd binary it skips t (fails it under make test), as Start.
func Shared(t TB) *Node {
	t.Helper()
	if _, err := LookBinary(); err != nil {
		Binary(t) // skips or fails t
	}
	shared.once.Do(func() {
		tb, err := newMainTB()
		if err != nil {
			shared.err = err
			return
		}
		shared.tb = tb
		shared.err = tb.run(func() {
			n := Start(tb, Options{})
			n.Generate(sharedBlocks)
			shared.node = n
		})
	})
	if shared.err != nil {
		t.Fatalf("btcdtest shared node: %v", shared.err)
	}
	return shared.node.For(t)
}

// CloseShared stops the node Shared started, if any, and removes its
// directory.
func CloseShared() {
	if shared.tb != nil {
		shared.tb.close()
	}
}

// mainTB is a TB outside any test, for a node that outlives the test that
// started it. Fatal panics with a mainFatal that run recovers into an error;
// Cleanup functions run at close.
type mainTB struct {
	dir string

	mu       sync.Mutex
	cleanups []func()
}

type mainFatal struct{ msg string }

func newMainTB() (*mainTB, error) {
	dir, err := os.MkdirTemp("", "btcdtest-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	return &mainTB{dir: dir}, nil
}

// run calls f, turning a Fatal or Skip in it into an error.
func (m *mainTB) run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			mf, ok := r.(mainFatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", mf.msg)
		}
	}()
	f()
	return nil
}

func (m *mainTB) Helper()                           {}
func (m *mainTB) Fatal(args ...any)                 { panic(mainFatal{fmt.Sprint(args...)}) }
func (m *mainTB) Fatalf(format string, args ...any) { panic(mainFatal{fmt.Sprintf(format, args...)}) }
func (m *mainTB) Skip(args ...any)                  { m.Fatal(args...) }

func (m *mainTB) Cleanup(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cleanups = append(m.cleanups, f)
}

func (m *mainTB) TempDir() string {
	d, err := os.MkdirTemp(m.dir, "tmp-")
	if err != nil {
		m.Fatalf("temporary directory: %v", err)
	}
	return d
}

// close runs the cleanups, last registered first, and removes the
// directory.
func (m *mainTB) close() {
	for {
		m.mu.Lock()
		k := len(m.cleanups)
		if k == 0 {
			m.mu.Unlock()
			break
		}
		f := m.cleanups[k-1]
		m.cleanups = m.cleanups[:k-1]
		m.mu.Unlock()
		f()
	}
	_ = os.RemoveAll(m.dir)
}
