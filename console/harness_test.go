package console_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipnd/ipnd/console"
)

const testKey = "test-key-0123456789abcdef"

// clock is a settable time for session and rate-limit tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is a console over a fake store, served by an httptest server
// the way the API will mount it.
type harness struct {
	t       testing.TB
	store   *fakeStore
	clock   *clock
	console *console.Console
	srv     *httptest.Server
	bc      *console.Broadcaster

	mu   sync.Mutex
	gets map[string]int // document GETs by path
}

func newHarness(t testing.TB, opts ...func(*console.Options)) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{t: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}, gets: map[string]int{}}
	h.store = newFakeStore(h.clock.now)
	h.bc = console.NewBroadcaster()
	h.store.onChange = h.bc.Notify
	o := console.Options{Store: h.store, Auth: console.Keys(testKey, "second-key-abcdefghijkl"), Notifier: h.bc,
		Invoices: h.store, Now: h.clock.now, Refresh: 200 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	c, err := console.New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.console = c
	mux := http.NewServeMux()
	mux.Handle("/console", c)
	mux.Handle("/console/", c)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "not the console", http.StatusTeapot) })
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && !strings.Contains(r.URL.Path, "/static/") && !strings.Contains(r.URL.Path, "/events/") {
			h.mu.Lock()
			h.gets[r.URL.Path]++
			h.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	h.srv.Config.RegisterOnShutdown(c.Close)
	h.srv.Start()
	t.Cleanup(func() {
		c.Close()
		h.srv.Close()
	})
	return h
}

// documentGets is how many times the page at path was loaded.
func (h *harness) documentGets(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gets[path]
}

// client is one browser-like visitor: a cookie jar, no redirects followed.
type client struct {
	h      *harness
	http   *http.Client
	header http.Header // added to every request
}

func (h *harness) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &client{h: h, header: http.Header{}, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status  int
	header  http.Header
	body    string
	cookies []*http.Cookie
}

func (c *client) do(method, path string, form url.Values) answer {
	c.h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.h.srv.URL+path, body)
	if err != nil {
		c.h.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.h.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b), cookies: resp.Cookies()}
}

func (c *client) get(path string) answer { return c.do(http.MethodGet, path, nil) }

func (c *client) post(path string, form url.Values) answer { return c.do(http.MethodPost, path, form) }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token is the CSRF token of the forms on a page.
func token(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", body)
	}
	return m[1]
}

// signIn signs the client in with key and returns the answer to the post.
func (c *client) signIn(key string) answer {
	c.h.t.Helper()
	form := c.get("/console/signin")
	if form.status != http.StatusOK {
		c.h.t.Fatalf("sign-in form: %d", form.status)
	}
	return c.post("/console/signin", url.Values{"key": {key}, "csrf": {token(c.h.t, form.body)}})
}

// signedIn is a client that signed in with the test key.
func (h *harness) signedIn() *client {
	h.t.Helper()
	c := h.client()
	if a := c.signIn(testKey); a.status != http.StatusSeeOther {
		h.t.Fatalf("sign-in: %d %s", a.status, a.body)
	}
	return c
}

// csrf is the client's session token, read from a page.
func (c *client) csrf() string {
	c.h.t.Helper()
	return token(c.h.t, c.get("/console/").body)
}

// event is one server-sent event.
type event struct {
	name, data string
	comment    bool
}

// stream opens an event stream; events arrive on the channel until the
// stream ends (then it is closed). cancel hangs up.
func (c *client) stream(path string) (status int, events <-chan event, cancel func()) {
	c.h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.h.srv.URL+path, nil)
	if err != nil {
		c.h.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		c.h.t.Fatalf("GET %s: %v", path, err)
	}
	ch := make(chan event, 64)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		close(ch)
		return resp.StatusCode, ch, cancel
	}
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev event
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" || data != nil {
					ev.data = strings.Join(data, "\n")
					ch <- ev
				}
				ev, data = event{}, nil
			case strings.HasPrefix(line, ":"):
				ch <- event{comment: true, data: line}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return resp.StatusCode, ch, cancel
}

// next waits for the next event that is not a comment (or a comment when
// comments is true).
func next(t testing.TB, events <-chan event, comments bool) event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.comment == comments {
				return ev
			}
		case <-deadline:
			t.Fatal("no event within 20 s")
		}
	}
}
