// Package browsertest drives headless Chromium (Debian's chromium package)
// from go test through chromedp, for tests of the pages ipnd serves (the
// hosted checkout page, the operator console).
//
// One browser per test package, started on first use; each test gets a tab
// in a browser context of its own (no shared cookies or cache):
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		browsertest.CloseShared()
//		os.Exit(code)
//	}
//
//	func TestCheckout(t *testing.T) {
//		p := browsertest.NewPage(t) // skips, or fails under make test, without Chromium
//		p.Navigate(srv.URL + "/pay/" + id)
//		p.WaitText("#status", "waiting")
//		p.Screenshot("waiting")
//		// ... pay and mine ...
//		p.WaitText("#status", "confirmed") // live update, no reload
//		p.RequireClean()                   // nothing left the origin, no console error, no CSP violation
//		t.Logf("%v; %v", p.Weight(), p.Timing())
//	}
//
// The browser is found at $IPND_CHROMIUM or /usr/bin/chromium; without it
// tests call testenv.Unavailable (scripts/with-test-deps.sh installs it for
// make test). It runs with chromedp's defaults plus what the project's
// machines need: --headless --no-sandbox --disable-gpu --disable-quic
// --no-first-run --disable-background-networking --disable-component-update
// --disable-sync (without the background-networking switches Chromium keeps
// trying hosts the closed network refuses), a fresh --user-data-dir made
// and removed by chromedp (one profile for the package's browser, so not a
// test's t.TempDir), and site isolation off so that every frame's requests
// reach the tab's network events.
//
// What a Page records from the moment it opens: every network request
// (Requests, CrossOrigin against the origin of the last Navigate, CSP-blocked
// attempts included), console errors, uncaught exceptions and the browser's
// error log (ConsoleErrors), and Content-Security-Policy violations from the
// browser's issue reports (CSPViolations). Helpers that evaluate JavaScript
// (WaitText, WaitVisible, Text, Eval, Timing) go through the DevTools
// protocol, which the page's CSP does not govern, so they cause no violation
// themselves. Waits are event-driven (a MutationObserver, with a 100 ms
// re-check for style changes) and bounded by Page.Timeout; none sleeps.
//
// Screenshots go to t.ArtifactDir(): kept only when go test runs with
// -artifacts (under -outputdir, in _artifacts/<random>/, files named
// TestName.name.png), a temporary directory otherwise. See ArtifactPath.
//
// Budget, measured on the project's 2-core machine (Chromium 156, Debian
// bookworm; BenchmarkStart and TestStrictPage's log): starting the browser
// takes 0.5-0.65 s (start and stop about 0.9 s); its process tree uses
// about 340 MB (proportional set size) with a blank tab and about 400 MB
// with a small page open. A new tab with a page takes 0.2-0.4 s.
package browsertest
