package browsertest_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipnd/ipnd/internal/browsertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	browsertest.CloseShared()
	os.Exit(code)
}

// strictCSP allows nothing but the page's own origin, and no inline code;
// imgSrc is the img-src directive's sources.
func strictCSP(imgSrc string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + imgSrc + "; connect-src 'self'; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// site is a small page of the kind ipnd serves (the checkout page, the
// console): strict CSP, a stylesheet, a script that follows a server-sent
// event stream, an image, and a form with a CSRF-like hidden field.
type site struct {
	srv       *httptest.Server
	other     *httptest.Server // another origin (another loopback port)
	otherHits atomic.Int32
	docLoads  atomic.Int32
	push      chan string // status updates for the event stream
}

func newSite(t *testing.T) *site {
	s := &site{push: make(chan string, 4)}
	s.other = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.otherHits.Add(1)
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes(t))
	}))
	t.Cleanup(s.other.Close)

	mux := http.NewServeMux()
	page := func(csp, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s.docLoads.Add(1)
			w.Header().Set("Content-Security-Policy", csp)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>t</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.ico"><link rel="stylesheet" href="/style.css"></head>
<body>%s</body></html>`, body)
		}
	}
	mux.HandleFunc("GET /{$}", page(strictCSP("'self'"), `<h1>Pay 0.001 BTC</h1>
<p id="status">loading</p><img id="logo" src="/logo.png" alt="logo" width="32" height="32">
<form method="post" action="/submit"><input type="hidden" name="csrf" value="tok-123">
<input id="name" name="name"><button id="send" type="submit">Send</button></form>
<script src="/app.js"></script>`))
	mux.HandleFunc("GET /leaky", page(strictCSP("'self' "+s.other.URL),
		`<p id="status">leaky</p><img id="ext" src="`+s.other.URL+`/pixel.png" alt="x">`))
	mux.HandleFunc("GET /violating", page(strictCSP("'self'"),
		`<p id="status">violating</p><img id="ext" src="`+s.other.URL+`/pixel.png" alt="x"><script>document.title = "inline";</script>`))
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("csrf") != "tok-123" {
			http.Error(w, "bad csrf token", http.StatusForbidden)
			return
		}
		page(strictCSP("'self'"), `<p id="result">thanks `+htmlEscape(r.FormValue("name"))+`</p>`)(w, r)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, "data: waiting\n\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case msg := <-s.push:
				fmt.Fprintf(w, "data: %s\n\n", msg)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `const es = new EventSource("/events");
es.onmessage = (e) => { document.getElementById("status").textContent = e.data; };`)
	})
	mux.HandleFunc("GET /style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, `body{font-family:sans-serif;margin:1rem}#status{font-weight:bold}`)
	})
	mux.HandleFunc("GET /logo.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes(t))
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes(t))
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func pngBytes(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range 4 {
		img.Set(i, i, color.RGBA{0xf7, 0x93, 0x1a, 0xff})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Error(err)
	}
	return b.Bytes()
}

func pngConfig(t *testing.T, path string) image.Config {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	return cfg
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// A strict-CSP page with a live event stream and a form: the live update is
// seen without a reload, the form posts its hidden field, the screenshot is
// a PNG, and nothing leaves the origin or breaks the CSP.
func TestStrictPage(t *testing.T) {
	s := newSite(t)
	p := browsertest.NewPage(t)
	if status := p.Navigate(s.srv.URL + "/"); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	p.WaitVisible("#logo")
	p.WaitText("#status", "waiting")

	if cfg := pngConfig(t, p.Screenshot("waiting")); cfg.Width < 100 || cfg.Height < 100 {
		t.Errorf("page screenshot is %dx%d", cfg.Width, cfg.Height)
	}
	if cfg := pngConfig(t, p.ScreenshotElement("#logo", "logo")); cfg.Width != 32 || cfg.Height != 32 {
		t.Errorf("screenshot of the 32x32 logo is %dx%d", cfg.Width, cfg.Height)
	}

	s.push <- "confirmed"
	p.WaitText("#status", "confirmed")
	if got := p.Text("#status"); got != "confirmed" {
		t.Errorf("after WaitText the status reads %q", got)
	}
	if n := s.docLoads.Load(); n != 1 {
		t.Errorf("document loaded %d times; the update must come without a reload", n)
	}

	w := p.Weight()
	tm := p.Timing()
	if w.Requests < 5 || w.Bytes <= 0 {
		t.Errorf("weight %v: want the document, stylesheet, script, image and event stream", w)
	}
	if tm.FirstContentfulPaint <= 0 || tm.Load <= 0 {
		t.Errorf("timing %v: want a first contentful paint and a load event", tm)
	}
	t.Logf("page weight %v; %v", w, tm)
	if !slices.ContainsFunc(p.Requests(), func(r browsertest.Request) bool {
		return r.Type == "EventSource" && strings.HasSuffix(r.URL, "/events") && r.Status == 200
	}) {
		t.Errorf("no event stream among the requests: %+v", p.Requests())
	}

	p.Fill("#name", "Ada <3")
	p.Click("#send")
	p.WaitText("#result", "thanks Ada <3")
	p.RequireClean()

	b := browsertest.Shared(t)
	mem, err := b.Memory()
	if err != nil {
		t.Error(err)
	}
	t.Logf("browser started in %v; its process tree now uses %d MB (PSS)", b.Startup(), mem>>20)
}

// An image from another origin that the page's CSP allows is a request
// that left the origin: CrossOrigin names it, and the other server saw it.
func TestCrossOriginCaught(t *testing.T) {
	s := newSite(t)
	p := browsertest.NewPage(t)
	p.Navigate(s.srv.URL + "/leaky")
	if _, ok := browsertest.Eval[bool](p, `document.getElementById("ext").decode().then(() => true)`); !ok {
		t.Fatal("the cross-origin image did not load")
	}
	got := p.CrossOrigin()
	if len(got) != 1 || !strings.Contains(got[0], s.other.URL+"/pixel.png") {
		t.Errorf("CrossOrigin() = %q, want the image on %s", got, s.other.URL)
	}
	if s.otherHits.Load() == 0 {
		t.Error("the other origin saw no request")
	}
	if v := p.CSPViolations(); len(v) != 0 {
		t.Errorf("CSP violations %v on a page whose CSP allows the image", v)
	}
}

// A page breaking its strict CSP (an inline script, an image from another
// origin) is reported: two violations, console errors, and the blocked
// attempt is still listed as a request for another origin.
func TestCSPViolationReported(t *testing.T) {
	s := newSite(t)
	p := browsertest.NewPage(t)
	p.Navigate(s.srv.URL + "/violating")
	v := p.WaitCSPViolations(2)
	var directives []string
	for _, x := range v {
		directives = append(directives, x.Directive)
	}
	joined := strings.Join(directives, " ")
	if !strings.Contains(joined, "img-src") || !strings.Contains(joined, "script-src") {
		t.Errorf("violations %v: want img-src and script-src", v)
	}
	if len(p.ConsoleErrors()) == 0 {
		t.Error("no console error for the CSP refusals")
	}
	if s.otherHits.Load() != 0 {
		t.Error("the blocked image reached the other origin")
	}
	t.Logf("violations %v; console %q; cross-origin %q", v, p.ConsoleErrors(), p.CrossOrigin())
}

// fatalTB records a Fatalf and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// A wait for text that never comes fails at the page's timeout, showing
// what the page does say.
func TestWaitTimesOut(t *testing.T) {
	s := newSite(t)
	ft := &fatalTB{TB: t}
	p := browsertest.Shared(t).NewPage(ft)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Navigate(s.srv.URL + "/")
		// Only the wait is to time out: a loaded machine may take longer
		// than 300 ms to load the page.
		p.Timeout = 300 * time.Millisecond
		p.WaitText("#status", "never")
	}()
	<-done
	if !strings.Contains(ft.msg, `to show "never": not within 300ms`) || !strings.Contains(ft.msg, "Pay 0.001 BTC") {
		t.Errorf("failure message %q", ft.msg)
	}
}

// BenchmarkStart measures starting and stopping a browser (and its memory
// with one blank tab), for budgeting browser tests.
func BenchmarkStart(b *testing.B) {
	var mem int64
	for b.Loop() {
		br, err := browsertest.Start(b.Context())
		if errors.Is(err, browsertest.ErrNoBrowser) {
			b.Skip(err)
		}
		if err != nil {
			b.Fatal(err)
		}
		if mem, err = br.Memory(); err != nil {
			b.Fatal(err)
		}
		br.Close()
	}
	b.ReportMetric(float64(mem)/(1<<20), "MB-PSS")
}
