package checkout

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ipnd/ipnd/internal/clientip"
	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ledger"
)

// Store reads invoices (*db.Ledger).
type Store interface {
	// Invoice reads an invoice by its id; an error wrapping
	// ledger.ErrNotFound when there is none.
	Invoice(ctx context.Context, id string) (invoice.Invoice, error)
}

// Options configures the checkout pages. Store is required.
type Options struct {
	Store Store
	// Now is the ledger's clock (time left is counted on it); nil uses
	// time.Now.
	Now func() time.Time
	// Rate is how many requests per minute one client may make (with a
	// burst of as many); 0: no limit.
	Rate int
	// ClientAddr names a request's client for the limits (a
	// clientip.Resolver's Client, which knows the trusted proxies); nil
	// uses the connection's IP address (IPv6: its /64).
	ClientAddr func(*http.Request) string
	// Refresh is how often a live stream reads its invoice (default 1 s).
	Refresh time.Duration
	// Heartbeat is how often an idle stream sends a comment (default 15 s).
	Heartbeat time.Duration
	// StreamLife ends a stream after this long (default 10 min); the
	// browser reconnects at once.
	StreamLife time.Duration
	// MaxStreams bounds the live streams of the process (default 1000),
	// MaxStreamsPerClient those of one client (default 4).
	MaxStreams, MaxStreamsPerClient int
	// Logger receives the pages' log lines (subsystem=checkout); nil
	// discards.
	Logger *slog.Logger
}

// Paths the pages are served at; ID is an invoice id (invoice.ValidID).
const (
	PagePattern   = "/pay/{id}"
	EventsPattern = "/pay/{id}/events"
	QRPNGPattern  = "/pay/{id}/qr.png"
	QRSVGPattern  = "/pay/{id}/qr.svg"
	CSSPath       = "/pay/assets/checkout.css"
	JSPath        = "/pay/assets/checkout.js"
	IconPath      = "/pay/assets/icon.svg"
)

// Patterns lists every path the pages answer (GET), for a router that
// mounts them.
var Patterns = []string{PagePattern, EventsPattern, QRPNGPattern, QRSVGPattern, CSSPath, JSPath, IconPath}

// PageURL, QRPNGURL and QRSVGURL are an invoice's links below base (the
// public URL ipnd is reached at, without a trailing slash).
func PageURL(base, id string) string  { return base + "/pay/" + id }
func QRPNGURL(base, id string) string { return base + "/pay/" + id + "/qr.png" }
func QRSVGURL(base, id string) string { return base + "/pay/" + id + "/qr.svg" }

//go:embed assets/page.html assets/checkout.css assets/checkout.js assets/icon.svg
var assets embed.FS

var pageTemplate = template.Must(template.ParseFS(assets, "assets/page.html"))

// contentSecurityPolicy is every page's: nothing from another origin, no
// inline code, no framing, no form posts.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Checkout serves the hosted checkout pages: an http.Handler for the
// Patterns. The invoice id in the path is the capability: the pages need
// no key.
type Checkout struct {
	o    Options
	log  *slog.Logger
	lim  *limiter
	mux  *http.ServeMux
	css  []byte
	js   []byte
	icon []byte

	mu      sync.Mutex
	streams map[string]int // per client
	total   int
	closed  chan struct{}
	once    sync.Once
}

// New checks the options and builds the pages.
func New(o Options) (*Checkout, error) {
	if o.Store == nil {
		return nil, errors.New("checkout: Options.Store is required (the ledger)")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientAddr == nil {
		o.ClientAddr = clientip.Resolver{}.Client
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.StreamLife <= 0 {
		o.StreamLife = 10 * time.Minute
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 1000
	}
	if o.MaxStreamsPerClient <= 0 {
		o.MaxStreamsPerClient = 4
	}
	l := o.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	c := &Checkout{o: o, log: l.With("subsystem", "checkout"), lim: newLimiter(o.Rate, time.Now),
		streams: map[string]int{}, closed: make(chan struct{})}
	var err error
	if c.css, err = assets.ReadFile("assets/checkout.css"); err != nil {
		return nil, err
	}
	if c.js, err = assets.ReadFile("assets/checkout.js"); err != nil {
		return nil, err
	}
	if c.icon, err = assets.ReadFile("assets/icon.svg"); err != nil {
		return nil, err
	}
	c.mux = http.NewServeMux()
	c.mux.HandleFunc("GET "+PagePattern, c.page)
	c.mux.HandleFunc("GET "+EventsPattern, c.events)
	c.mux.HandleFunc("GET "+QRPNGPattern, c.qr)
	c.mux.HandleFunc("GET "+QRSVGPattern, c.qr)
	c.mux.HandleFunc("GET "+CSSPath, c.asset(c.css, "text/css; charset=utf-8"))
	c.mux.HandleFunc("GET "+JSPath, c.asset(c.js, "text/javascript; charset=utf-8"))
	c.mux.HandleFunc("GET "+IconPath, c.asset(c.icon, "image/svg+xml"))
	return c, nil
}

// ServeHTTP answers the Patterns (GET and HEAD), every request within the
// client's rate.
func (c *Checkout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // the URL is the capability: it must not leak
	h.Set("X-Frame-Options", "DENY")
	if ok, wait := c.lim.allow(c.o.ClientAddr(r)); !ok {
		h.Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		c.plain(w, http.StatusTooManyRequests, "too many requests: try again in a moment")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// Close ends every live stream (call it when the server shuts down).
func (c *Checkout) Close() { c.once.Do(func() { close(c.closed) }) }

func (c *Checkout) plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

func (c *Checkout) asset(body []byte, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(body)
	}
}

// load reads the invoice of the request's path. It answers the request
// itself (404, 503) when there is none to show.
func (c *Checkout) load(w http.ResponseWriter, r *http.Request, page bool) (invoice.Invoice, bool) {
	id := r.PathValue("id")
	status, msg := http.StatusNotFound, "This payment link is not valid."
	if invoice.ValidID(id) {
		inv, err := c.o.Store.Invoice(r.Context(), id)
		switch {
		case err == nil:
			return inv, true
		case errors.Is(err, ledger.ErrNotFound):
		default:
			c.log.Warn("read invoice", "err", err)
			status, msg = http.StatusServiceUnavailable, "This page is not available right now; try again in a minute."
		}
	}
	if page {
		c.render(w, status, pageData{Missing: msg})
	} else {
		c.plain(w, status, msg)
	}
	return invoice.Invoice{}, false
}

// pageData is the page template's input.
type pageData struct {
	Missing string // the page shows only this (no such invoice)
	Inv     invoice.Invoice
	State   state
	Amount  string // "0.0015 BTC"
	URI     string
	QRSVG   string
	Events  string
	// ExpiresAt and TimeLeft are shown without JavaScript.
	ExpiresAt string
	TimeLeft  string
}

func (c *Checkout) page(w http.ResponseWriter, r *http.Request) {
	inv, ok := c.load(w, r, true)
	if !ok {
		return
	}
	now := c.o.Now()
	st := stateOf(inv, now)
	left := time.Duration(st.ExpiresInMS) * time.Millisecond
	c.render(w, http.StatusOK, pageData{Inv: inv, State: st, Amount: amount(inv, inv.AmountAtomic), URI: inv.URI(),
		QRSVG: QRSVGURL("", inv.ID), Events: "/pay/" + inv.ID + "/events",
		ExpiresAt: inv.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), TimeLeft: clock(left)})
}

// clock renders a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d / time.Second)
	if s >= 3600 {
		return strconv.FormatInt(s/3600, 10) + ":" + two(s/60%60) + ":" + two(s%60)
	}
	return strconv.FormatInt(s/60, 10) + ":" + two(s%60)
}

func two(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

func (c *Checkout) render(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, d); err != nil {
		c.log.Warn("render checkout page", "err", err)
	}
}

// qr answers the invoice's payment URI as a QR code (PNG or SVG by the
// path). The URI never changes, so it may be cached.
func (c *Checkout) qr(w http.ResponseWriter, r *http.Request) {
	inv, ok := c.load(w, r, false)
	if !ok {
		return
	}
	svg := r.Pattern == "GET "+QRSVGPattern
	var b []byte
	var err error
	if svg {
		b, err = invoice.QRSVG(inv.URI())
	} else {
		b, err = invoice.QRPNG(inv.URI())
	}
	if err != nil {
		c.log.Warn("render QR code", "invoice", inv.ID, "err", err)
		c.plain(w, http.StatusInternalServerError, "cannot render the QR code")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	if svg {
		h.Set("Content-Type", "image/svg+xml")
	}
	h.Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(b)
}
