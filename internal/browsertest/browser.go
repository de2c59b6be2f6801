package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ipnd/ipnd/internal/testenv"
)

// PathEnv names the variable that overrides where Chromium is.
const PathEnv = "IPND_CHROMIUM"

// DefaultPath is where Debian's chromium package puts its launcher.
const DefaultPath = "/usr/bin/chromium"

// ErrNoBrowser is wrapped by the errors of Path and Start when there is no
// Chromium to run.
var ErrNoBrowser = errors.New("no Chromium")

// Path returns the Chromium to run: $IPND_CHROMIUM when set, else
// /usr/bin/chromium. The error wraps ErrNoBrowser and says what to install.
func Path() (string, error) {
	p := os.Getenv(PathEnv)
	if p == "" {
		p = DefaultPath
	}
	abs, err := exec.LookPath(p)
	if err != nil {
		return "", fmt.Errorf("%w at %s (install Debian's chromium: apt-get install -y chromium, or set %s): %v",
			ErrNoBrowser, p, PathEnv, err)
	}
	return abs, nil
}

// flags are the command-line switches this machine needs on top of
// chromedp's defaults: headless without sandbox (tests run as root), no GPU,
// and none of the background traffic (QUIC, component updates, sync, the
// first-run page) that the closed network of the project's machines refuses.
// Site isolation is off so that every frame's requests reach the page's
// network events (a cross-origin iframe would otherwise run in a target of
// its own and escape the origin check).
func flags(execPath string) []chromedp.ExecAllocatorOption {
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	return append(opts,
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,SitePerProcess,IsolateOrigins,OptimizationHints,MediaRouter"),
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1280, 800),
	)
}

// Browser is one headless Chromium, shared by the tests of a package; each
// test gets its own tab in its own browser context (cookies, cache and
// storage are not shared between pages).
type Browser struct {
	ctx         context.Context // the browser's first tab; pages derive from it
	cancel      context.CancelFunc
	cancelAlloc context.CancelFunc
	startup     time.Duration
}

// Start launches headless Chromium with a fresh profile (a user-data-dir
// that chromedp creates in the temp directory and removes on Close). A
// missing binary gives an error wrapping ErrNoBrowser.
func Start(ctx context.Context) (*Browser, error) {
	execPath, err := Path()
	if err != nil {
		return nil, err
	}
	began := time.Now()
	// The allocator and the browser live until Close, not until ctx ends:
	// ctx only bounds the start.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags(execPath)...)
	browserCtx, cancel := chromedp.NewContext(allocCtx)
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(browserCtx) }()
	select {
	case err = <-started:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		cancelAlloc()
		return nil, fmt.Errorf("starting %s: %w", execPath, err)
	}
	return &Browser{ctx: browserCtx, cancel: cancel, cancelAlloc: cancelAlloc, startup: time.Since(began)}, nil
}

// Startup is how long Start took until the browser answered.
func (b *Browser) Startup() time.Duration { return b.startup }

// Close stops the browser and removes its profile.
func (b *Browser) Close() {
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Cancel(ctx); err != nil {
		b.cancel()
	}
	b.cancelAlloc()
}

// Memory is the proportional set size (PSS: resident memory, pages shared
// between processes divided among them) of the browser's whole process
// tree (browser, renderers, GPU and utility processes) in bytes, read from
// /proc. Summing RSS instead would count the shared pages once per process.
func (b *Browser) Memory() (int64, error) {
	c := chromedp.FromContext(b.ctx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return 0, errors.New("browser process unknown")
	}
	return treePSS(c.Browser.Process().Pid)
}

func treePSS(root int) (int64, error) {
	children := map[int][]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name (in parentheses): state, ppid, ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var total int64
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = append(queue[1:], children[pid]...)
		rollup, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(rollup), "\n") {
			if v, ok := strings.CutPrefix(line, "Pss:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total += kb * 1024
			}
		}
	}
	return total, nil
}

var shared struct {
	once    sync.Once
	browser *Browser
	err     error
}

// Shared returns the package's browser, starting it on first use (so a run
// that filters out every browser test never pays for it). When there is no
// Chromium the test is skipped, or failed under make test
// (testenv.Unavailable); a Chromium that is there but does not start fails
// the test. Call CloseShared from TestMain after m.Run; without it the
// kernel still kills the browser when the test binary exits.
func Shared(t testing.TB) *Browser {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared.browser, shared.err = Start(ctx)
	})
	if errors.Is(shared.err, ErrNoBrowser) {
		testenv.Unavailable(t, "%v", shared.err)
	}
	if shared.err != nil {
		t.Fatalf("browsertest: %v", shared.err)
	}
	return shared.browser
}

// CloseShared stops the browser Shared started, if any.
func CloseShared() {
	shared.browser.Close()
}
