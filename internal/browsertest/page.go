package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// DefaultTimeout bounds each navigation, wait and action of a Page unless
// the test sets Page.Timeout.
const DefaultTimeout = 30 * time.Second

// Page is one browser tab for one test, in a browser context of its own.
// Its methods fail the test (t.Fatal) when the browser errs or a wait
// times out. It records the tab's network requests, console errors and
// Content-Security-Policy violations from the moment it opens.
type Page struct {
	t       testing.TB
	ctx     context.Context
	rec     *recorder
	Timeout time.Duration // per navigation, wait or action; DefaultTimeout when zero

	navStart int // index of the first request of the last Navigate
}

// NewPage opens a tab in the package's shared browser (see Shared); it
// closes when the test ends.
func NewPage(t testing.TB) *Page {
	t.Helper()
	return Shared(t).NewPage(t)
}

// NewPage opens a tab in b for t, closed when the test ends.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	rec := newRecorder()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(rec.onEvent))
	// The first Do attaches the tab (and enables the network, log and
	// runtime domains); the Audits domain reports CSP violations.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, audits.Enable, cdp.Empty{})
		return err
	}))
	if err != nil {
		cancel()
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	t.Cleanup(func() {
		closeCtx, done := context.WithTimeout(ctx, 5*time.Second)
		defer done()
		_ = chromedp.Cancel(closeCtx)
		cancel()
	})
	return &Page{t: t, ctx: ctx, rec: rec}
}

// Context is the tab's chromedp context, for actions this package has no
// helper for: chromedp.Run(p.Context(), ...).
func (p *Page) Context() context.Context { return p.ctx }

func (p *Page) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultTimeout
}

func (p *Page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout())
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browsertest: %s: %v", what, err)
	}
}

// Navigate loads url and waits for its load event; it returns the HTTP
// status of the document. The origin of url becomes the page's origin for
// CrossOrigin. A status of 400 or more does not fail the test.
func (p *Page) Navigate(url string) int64 {
	p.t.Helper()
	p.rec.mu.Lock()
	p.rec.pageOrigin = origin(url)
	p.navStart = len(p.rec.requests)
	p.rec.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout())
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		p.t.Fatalf("browsertest: navigating to %s: %v", url, err)
	}
	if resp == nil {
		return 0
	}
	return resp.Status
}

// Location is the URL of the document the tab shows.
func (p *Page) Location() string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout())
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		p.t.Fatalf("browsertest: location: %v", err)
	}
	return loc
}

// waitFor runs the JavaScript predicate pred(arg) in the page until it is
// true or the page's timeout passes. Inside one document it re-checks on
// every DOM mutation (and every 100 ms, for style changes); a navigation
// (a form post, a refresh fallback) ends the check in the old document and
// it starts again in the new one. The predicate runs through the DevTools
// protocol, so a strict CSP on the page does not apply to it.
func (p *Page) waitFor(what, pred string, arg any) {
	p.t.Helper()
	argJSON, err := json.Marshal(arg)
	if err != nil {
		p.t.Fatalf("browsertest: %s: %v", what, err)
	}
	deadline := time.Now().Add(p.timeout())
	var lastErr error
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		// The check waits in the page in slices: a page whose scripts are
		// off (or that navigated away while the check was sent) never
		// runs the check's timers, so a check that cannot answer is given
		// up after its slice and sent again.
		slice := min(left, waitSlice)
		expr := fmt.Sprintf(waitJS, pred, argJSON, slice.Milliseconds())
		ctx, cancel := context.WithTimeout(p.ctx, slice+500*time.Millisecond)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil {
			if ok {
				return
			}
			lastErr = nil
			continue
		}
		if p.ctx.Err() != nil {
			lastErr = err
			break
		}
		// The document went away under the check (a navigation): try again
		// in the next one, without spinning while it loads.
		lastErr = err
		select {
		case <-time.After(50 * time.Millisecond):
		case <-p.ctx.Done():
		}
	}
	if lastErr != nil {
		p.t.Fatalf("browsertest: %s: not within %v: %v", what, p.timeout(), lastErr)
	}
	p.t.Fatalf("browsertest: %s: not within %v; the page at %s shows: %q", what, p.timeout(), p.Location(), p.bodyText())
}

// waitSlice is how long one check waits in the page (waitFor).
const waitSlice = 2 * time.Second

// waitJS wraps a predicate (a JS function of one argument) into a promise
// that resolves true when it holds, false at the deadline (milliseconds).
const waitJS = `new Promise((resolve) => {
	const pred = %s, arg = %s;
	const check = () => { try { return !!pred(arg); } catch (e) { return false; } };
	if (check()) { resolve(true); return; }
	let done = false;
	const finish = (v) => { if (done) return; done = true; obs.disconnect(); clearInterval(tick); clearTimeout(stop); resolve(v); };
	const obs = new MutationObserver(() => { if (check()) finish(true); });
	obs.observe(document, {childList: true, subtree: true, attributes: true, characterData: true});
	const tick = setInterval(() => { if (check()) finish(true); }, 100);
	const stop = setTimeout(() => finish(check()), %d);
})`

const visibleJS = `(sel) => {
	const el = document.querySelector(sel);
	if (!el || el.getClientRects().length === 0) return false;
	const st = getComputedStyle(el);
	return st.visibility !== 'hidden' && st.display !== 'none' && st.opacity !== '0';
}`

const textJS = `(a) => { const el = document.querySelector(a.sel); return !!el && el.innerText.includes(a.text); }`

// WaitVisible waits until the first element matching the CSS selector is
// rendered and visible.
func (p *Page) WaitVisible(selector string) {
	p.t.Helper()
	p.waitFor("waiting for "+selector+" to be visible", visibleJS, selector)
}

// WaitText waits until the element matching the CSS selector shows text
// (a substring of its rendered text), without reloading the page.
func (p *Page) WaitText(selector, text string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("waiting for %s to show %q", selector, text), textJS,
		map[string]string{"sel": selector, "text": text})
}

// Click clicks the element matching the CSS selector with the mouse, as a
// person would (it waits for the element to be visible first). A click that
// navigates does not wait for the new page: follow it with a Wait.
func (p *Page) Click(selector string) {
	p.t.Helper()
	p.do("clicking "+selector, chromedp.Click(chromedp.CSS(selector)))
}

// Fill replaces the value of the input or textarea matching the CSS
// selector by typing value into it (key events, as a person would).
func (p *Page) Fill(selector, value string) {
	p.t.Helper()
	p.do("filling "+selector, chromedp.Clear(chromedp.CSS(selector)), chromedp.SendKeys(chromedp.CSS(selector), value))
}

// SetValue sets the value of a form field directly, without key events;
// for fields a person cannot type into (a hidden CSRF token a test tampers
// with).
func (p *Page) SetValue(selector, value string) {
	p.t.Helper()
	p.do("setting "+selector, chromedp.SetValue(chromedp.CSS(selector), value, chromedp.NodeReady))
}

// Text returns the rendered text (innerText) of the first element matching
// the CSS selector; it fails the test when there is none.
func (p *Page) Text(selector string) string {
	p.t.Helper()
	s, ok := Eval[*string](p, fmt.Sprintf(`(() => { const el = document.querySelector(%s); return el ? el.innerText : null; })()`, jsString(selector)))
	if !ok || s == nil {
		p.t.Fatalf("browsertest: no element matches %s on %s", selector, p.Location())
	}
	return *s
}

func (p *Page) bodyText() string {
	s, _ := Eval[string](p, `document.body ? document.body.innerText : ""`)
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}

// Eval evaluates a JavaScript expression in the page (through DevTools, so
// the page's CSP does not apply) and decodes its JSON value into T. It
// awaits a promise. ok is false (and the test goes on) when the expression
// throws; a browser failure fails the test.
func Eval[T any](p *Page, expression string) (v T, ok bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout())
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression, chromedp.EvalAwaitPromise))
	var exc *chromedp.ExceptionError
	if errors.As(err, &exc) {
		return v, false
	}
	if err != nil {
		p.t.Fatalf("browsertest: evaluating %.80q: %v", expression, err)
	}
	return v, true
}

// Viewport sets the tab's viewport in CSS pixels; mobile also turns on
// touch and the mobile layout (a phone is 390 x 844).
func (p *Page) Viewport(width, height int64, mobile bool) {
	p.t.Helper()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	p.do("setting the viewport", chromedp.EmulateViewport(width, height, opts...))
}

// Screenshot saves a PNG of the whole page in the test's artifact directory
// and returns its path (see ArtifactPath).
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout())
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("browsertest: screenshot: %v", err)
	}
	return p.save(name, png)
}

// ScreenshotElement saves a PNG of the first element matching the CSS
// selector (a QR code, say) like Screenshot, and returns its path.
func (p *Page) ScreenshotElement(selector, name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout())
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(selector)))
	if err != nil {
		p.t.Fatalf("browsertest: screenshot of %s: %v", selector, err)
	}
	return p.save(name, png)
}

func (p *Page) save(name string, data []byte) string {
	p.t.Helper()
	path := ArtifactPath(p.t, name+".png")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		p.t.Fatalf("browsertest: saving %s: %v", path, err)
	}
	p.t.Logf("browsertest: saved %s", path)
	return path
}

// ArtifactPath is where a test keeps an output file: in t.ArtifactDir(),
// named after the test (TestName.file; subtests' slashes become "__").
// t.ArtifactDir() is a temporary directory removed after the test unless
// go test runs with -artifacts, which keeps it under -outputdir (default:
// the directory go test runs in) as _artifacts/<random>/: Go 1.26.8 means
// _artifacts/<package>/<test>/<random>, but its path check rejects that
// name, hence the test's name in the file's name. -outputdir must exist.
func ArtifactPath(t testing.TB, file string) string {
	name := strings.NewReplacer("/", "__", " ", "_").Replace(t.Name())
	return filepath.Join(t.ArtifactDir(), name+"."+file)
}

// Requests returns every request the tab made so far, in order.
func (p *Page) Requests() []Request { return p.rec.snapshot(0) }

// CrossOrigin lists the requests (as "METHOD URL", with the failure or the
// browser's block reason when there is one) whose origin differs from the
// origin of the URL last passed to Navigate. Attempts the browser blocked
// (by CSP, say) are listed too: the page tried. data:, blob: and about:
// URLs never leave the browser and are not listed.
func (p *Page) CrossOrigin() []string {
	p.rec.mu.Lock()
	defer p.rec.mu.Unlock()
	var out []string
	for _, r := range p.rec.requests {
		o := origin(r.URL)
		if o == "" || o == r.PageOrigin {
			continue
		}
		s := r.Method + " " + r.URL
		if r.BlockedReason != "" {
			s += " (blocked: " + r.BlockedReason + ")"
		} else if r.Failed != "" {
			s += " (" + r.Failed + ")"
		}
		out = append(out, s)
	}
	return out
}

// ConsoleErrors lists console.error and console.assert calls, uncaught
// exceptions and the browser's error log entries (failed loads, CSP
// refusals) of the tab so far.
func (p *Page) ConsoleErrors() []string {
	p.rec.mu.Lock()
	defer p.rec.mu.Unlock()
	return append([]string(nil), p.rec.console...)
}

// CSPViolations lists the Content-Security-Policy violations of the tab so
// far, from the browser's issue reports (Audits domain). Chromium reports
// them right after the violation, but asynchronously: WaitCSPViolations
// waits for an expected one.
func (p *Page) CSPViolations() []CSPViolation {
	p.rec.mu.Lock()
	defer p.rec.mu.Unlock()
	return append([]CSPViolation(nil), p.rec.csp...)
}

// WaitCSPViolations waits until at least n CSP violations were reported
// and returns them.
func (p *Page) WaitCSPViolations(n int) []CSPViolation {
	p.t.Helper()
	deadline := time.Now().Add(p.timeout())
	for {
		v := p.CSPViolations()
		if len(v) >= n {
			return v
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("browsertest: %d CSP violations reported within %v, want %d: %v", len(v), p.timeout(), n, v)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-p.ctx.Done():
			p.t.Fatalf("browsertest: tab closed while waiting for CSP violations")
		}
	}
}

// RequireClean fails the test (without stopping it) for each request that
// left the page's origin, each console error and each CSP violation so far:
// what a page served with a strict CSP and no external assets must show.
func (p *Page) RequireClean() {
	p.t.Helper()
	for _, r := range p.CrossOrigin() {
		p.t.Errorf("browsertest: request left the origin %s: %s", p.rec.origin(), r)
	}
	for _, c := range p.ConsoleErrors() {
		p.t.Errorf("browsertest: console error: %s", c)
	}
	for _, v := range p.CSPViolations() {
		p.t.Errorf("browsertest: %s", v)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
