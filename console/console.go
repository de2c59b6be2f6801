package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ipnd/ipnd/internal/clientip"
	"github.com/ipnd/ipnd/ipn/receivertest"
)

// Options configures a Console. Store and Auth are required.
type Options struct {
	Store Store
	Auth  Authenticator
	// Invoices adds the invoice page; nil leaves it out.
	Invoices InvoiceStore
	// Notifier wakes the live views early; nil: they poll only.
	Notifier Notifier
	// TestReceiver runs the receiver test kit against an endpoint URL with
	// its secret (api.Server.TestEndpoint); nil leaves the endpoints
	// page's test button out.
	TestReceiver func(ctx context.Context, url string) (receivertest.Report, error)
	// Logger receives the console's log lines (subsystem=console); nil
	// discards.
	Logger *slog.Logger
	// Secure: the console is served over HTTPS (directly or behind a TLS
	// proxy). Cookies get the Secure attribute and the __Secure- prefix.
	Secure bool
	// Prefix is the path the console is mounted at; "/console" when empty.
	Prefix string
	// SessionTTL bounds a session's life (default 12 h); IdleTimeout ends
	// it earlier after that long without a page load (default 1 h).
	SessionTTL, IdleTimeout time.Duration
	// Refresh is how often live views look at the store (default 2 s).
	Refresh time.Duration
	// HeartbeatMaxAge: a chain whose heartbeat is older is shown not ready
	// (default 30 s, as /readyz).
	HeartbeatMaxAge time.Duration
	// MaxStreamsPerSession bounds a session's live streams (default 4);
	// MaxStreams all of them (default 64).
	MaxStreamsPerSession, MaxStreams int
	// ClientAddr names the client for the sign-in rate limit; nil uses
	// the connection's IP (set it behind a proxy that you trust).
	ClientAddr func(*http.Request) string
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// Console is the operator console: an http.Handler for everything under
// Options.Prefix. Mount it for the prefix and everything under it, and
// stop its live streams on shutdown:
//
//	c, err := console.New(console.Options{Store: store, Auth: console.Keys(keys...), Logger: log, Secure: tls})
//	mux.Handle("/console", c)
//	mux.Handle("/console/", c)
//	srv.RegisterOnShutdown(c.Close)
type Console struct {
	o        Options
	log      *slog.Logger
	sessions *sessions
	limiter  *limiter
	cop      *http.CrossOriginProtection
	pages    *pages
	mux      *http.ServeMux

	heartbeat time.Duration // between comments on an idle stream

	overviewSnap overviewSnap // the overview's data, shared

	streamsMu sync.Mutex
	streams   int
	closed    chan struct{}
	closeOnce sync.Once
}

// New checks the options and builds the console.
func New(o Options) (*Console, error) {
	if o.Store == nil {
		return nil, errors.New("console: Options.Store is required (the ledger)")
	}
	if o.Auth == nil {
		return nil, errors.New("console: Options.Auth is required (console.Keys of server.api_keys)")
	}
	if o.Prefix == "" {
		o.Prefix = "/console"
	}
	if !strings.HasPrefix(o.Prefix, "/") || strings.HasSuffix(o.Prefix, "/") || strings.ContainsAny(o.Prefix, "{}?#% ") {
		return nil, fmt.Errorf("console: Options.Prefix %q must start with / and not end with one (e.g. /console)", o.Prefix)
	}
	defaults := []struct {
		d   *time.Duration
		def time.Duration
	}{{&o.SessionTTL, 12 * time.Hour}, {&o.IdleTimeout, time.Hour}, {&o.Refresh, 2 * time.Second}, {&o.HeartbeatMaxAge, 30 * time.Second}}
	for _, d := range defaults {
		if *d.d <= 0 {
			*d.d = d.def
		}
	}
	if o.MaxStreamsPerSession <= 0 {
		o.MaxStreamsPerSession = 4
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 64
	}
	if o.ClientAddr == nil {
		o.ClientAddr = clientip.Resolver{}.Client
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	l := o.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	pg, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{
		o:        o,
		log:      l.With("subsystem", "console"),
		sessions: newSessions(o.SessionTTL, o.IdleTimeout, o.Now),
		limiter:  newLimiter(signInBurst, signInEvery, o.Now),
		cop:      http.NewCrossOriginProtection(),
		pages:    pg,
		closed:   make(chan struct{}),

		heartbeat: heartbeatEvery,
	}
	c.mux = c.routes()
	return c, nil
}

// Close ends every session and live stream (call it when the server
// stops: an open event stream would otherwise hold a graceful shutdown
// until its deadline).
func (c *Console) Close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.sessions.closeAll()
	})
}

// csp is the Content-Security-Policy of every answer: nothing but the
// console's own origin, no inline script or style, no framing, forms post
// only to the console.
const csp = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP sets the security headers on every answer, then routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if c.o.Secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.mux.ServeHTTP(w, r)
}

func (c *Console) path(p string) string { return c.o.Prefix + p }

func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	p := c.o.Prefix
	page := func(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
		mux.HandleFunc("GET "+p+pattern, c.signedIn(h))
	}
	action := func(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
		mux.HandleFunc("POST "+p+pattern, c.signedIn(c.checkForm(h)))
	}
	mux.HandleFunc("GET "+p, c.signedIn(c.overview))
	page("/{$}", c.overview)
	page("/addresses", c.addresses)
	page("/subscriptions", c.subscriptions)
	page("/subscriptions/{id}", c.subscription)
	page("/endpoints", c.endpoints)
	page("/notifications", c.notifications)
	if c.o.Invoices != nil {
		page("/invoices", c.invoices)
	}
	page("/events/overview", c.overviewEvents)
	page("/events/subscriptions/{id}", c.subscriptionEvents)

	action("/subscriptions/{id}/redeliver", c.redeliver)
	action("/subscriptions/{id}/end", c.endSubscription)
	action("/endpoints/redeliver", c.redeliverEndpoint)
	action("/endpoints/rotate", c.rotateSecret)
	if c.o.TestReceiver != nil {
		action("/endpoints/test", c.testReceiver)
	}
	action("/signout", c.signOut)

	mux.HandleFunc("GET "+p+"/signin", c.signInForm)
	mux.HandleFunc("POST "+p+"/signin", c.signIn)
	mux.HandleFunc("GET "+p+"/static/{file}", c.static)
	mux.HandleFunc(p+"/", c.notFound)
	return mux
}

// signedIn runs h with the request's session, or sends the browser to the
// sign-in page (401 for an event stream, which cannot follow it).
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.session(r)
		if s == nil {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, c.path("/events/")) {
				http.Redirect(w, r, c.path("/signin"), http.StatusSeeOther)
				return
			}
			c.errorPage(w, r, nil, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		h(w, r, s)
	}
}

// maxFormBytes caps a form body.
const maxFormBytes = 16 << 10

// checkForm refuses a state-changing request that did not come from a
// console page: one from another origin (Sec-Fetch-Site, Origin) or
// without the session's CSRF token.
func (c *Console) checkForm(h func(http.ResponseWriter, *http.Request, *session)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := c.cop.Check(r); err != nil {
			c.log.Warn("form refused: cross-origin request", "path", r.URL.Path)
			c.errorPage(w, r, s, http.StatusForbidden, "This form was not sent from the console. Go back, reload the page and try again.")
			return
		}
		if err := r.ParseForm(); err != nil {
			c.errorPage(w, r, s, http.StatusBadRequest, "The form could not be read.")
			return
		}
		if !s.checkCSRF(r.PostForm.Get("csrf")) {
			c.log.Warn("form refused: missing or wrong CSRF token", "path", r.URL.Path)
			c.errorPage(w, r, s, http.StatusForbidden, "This form has expired or was not sent from the console. Go back, reload the page and try again.")
			return
		}
		h(w, r, s)
	}
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.errorPage(w, r, c.session(r), http.StatusNotFound, "There is no such page in the console.")
}
