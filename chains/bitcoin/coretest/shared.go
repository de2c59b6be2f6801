package coretest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/ipnd/ipnd/internal/testenv"
)

// The package-wide node of Shared and Main.
var shared struct {
	once sync.Once
	node *Node
	err  error
	env  *mainTB
}

// Shared returns the test package's one node, started with o at the first
// call (later calls get the same node whatever their options), bound to t.
// Main stops it when the package's tests are done. A start that failed
// fails every test asking for the node; a missing litecoind skips (or
// fails, under make test) each of them.
//
//	func TestMain(m *testing.M) { os.Exit(coretest.Main(m)) }
//	func TestX(t *testing.T) { node := coretest.Shared(t, coretest.Options{}) ... }
func Shared(t testing.TB, o Options) *Node {
	t.Helper()
	if _, err := LookBinary(); err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	shared.once.Do(func() {
		shared.env = &mainTB{}
		shared.node, shared.err = shared.env.start(o)
	})
	if shared.err != nil {
		t.Fatalf("shared litecoind: %v", shared.err)
	}
	return shared.node.With(t)
}

// Main runs the package's tests and stops the node Shared started, if any.
// Use it from TestMain: os.Exit(coretest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.env != nil {
		shared.env.close()
	}
	return code
}

// mainTB is the TB of the shared node outside any one test: a failure
// panics with errMainFatal (recovered by start), cleanups and temporary
// directories run or go at close.
type mainTB struct {
	mu       sync.Mutex
	cleanups []func()
	dirs     []string
	msg      string
}

type mainFatal struct{}

func (e *mainTB) start(o Options) (n *Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(mainFatal); !ok {
				panic(r)
			}
			e.close()
			n, err = nil, errors.New(e.msg)
		}
	}()
	return Start(e, o), nil
}

func (e *mainTB) Helper() {}

func (e *mainTB) Fatal(args ...any) { e.msg = fmt.Sprint(args...); panic(mainFatal{}) }

func (e *mainTB) Fatalf(format string, args ...any) {
	e.msg = fmt.Sprintf(format, args...)
	panic(mainFatal{})
}

func (e *mainTB) Skip(args ...any) { e.Fatal(args...) }

func (e *mainTB) Cleanup(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, f)
}

func (e *mainTB) TempDir() string {
	d, err := os.MkdirTemp("", "coretest-")
	if err != nil {
		e.Fatalf("temp dir: %v", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dirs = append(e.dirs, d)
	return d
}

func (e *mainTB) close() {
	e.mu.Lock()
	cs, ds := e.cleanups, e.dirs
	e.cleanups, e.dirs = nil, nil
	e.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	for _, d := range ds {
		_ = os.RemoveAll(d)
	}
}
