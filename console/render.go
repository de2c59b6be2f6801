package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates/<name>.html files; each is parsed with
// layout.html into a set of its own (each defines "content").
var pageNames = []string{"signin", "overview", "addresses", "subscriptions", "subscription",
	"endpoints", "notifications", "invoices", "error"}

type asset struct {
	body        []byte
	contentType string
	version     string // first 16 hex digits of the SHA-256
}

type pages struct {
	byName map[string]*template.Template
	assets map[string]asset
}

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}, assets: map[string]asset{}}
	err := fs.WalkDir(staticFS, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		p.assets[path.Base(name)] = asset{body: b, contentType: contentTypes[path.Ext(name)], version: hex.EncodeToString(sum[:8])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: reading embedded assets: %w", err)
	}
	funcs := template.FuncMap{
		"amount":      formatAmount,
		"when":        formatTime,
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"dur":         formatDuration,
		"short":       shorten,
		"httpStat":    formatHTTPStatus,
		"delivery":    deliveryBadge,
		"walletIndex": addressIndex,
		"asset": func(name string) (string, error) {
			a, ok := p.assets[name]
			if !ok {
				return "", fmt.Errorf("no asset %q", name)
			}
			return "/static/" + name + "?v=" + a.version, nil
		},
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: parsing templates: %w", err)
	}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, "templates/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("console: parsing template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

// view is what every page template gets.
type view struct {
	Title    string
	Nav      string // the navigation entry to mark current
	Prefix   string
	CSRF     string // the forms' token
	SignedIn bool
	Invoices bool   // the invoice page exists
	Tests    bool   // endpoints have a receiver test button
	Live     string // the event stream of the page's live region, "" for none
	Flash    *flash
	Data     any
}

func errorFlash(msg string) *flash {
	if msg == "" {
		return nil
	}
	return &flash{Error: true, Message: msg}
}

// page is the view of a signed-in page; it takes the session's flash.
func (c *Console) page(s *session, nav, title string, data any) view {
	return view{Title: title, Nav: nav, CSRF: s.csrf, SignedIn: true, Flash: s.takeFlash(), Data: data}
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.Prefix = c.o.Prefix
	v.Invoices = c.o.Invoices != nil
	v.Tests = c.o.TestReceiver != nil
	var buf bytes.Buffer
	if err := c.pages.byName[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("rendering a page failed", "page", name, "err", err)
		http.Error(w, "The page could not be rendered.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fragment renders one named template of a page (a live region).
func (c *Console) fragment(page, name string, v view) ([]byte, error) {
	v.Prefix = c.o.Prefix
	v.Invoices = c.o.Invoices != nil
	var buf bytes.Buffer
	if err := c.pages.byName[page].ExecuteTemplate(&buf, name, v); err != nil {
		return nil, fmt.Errorf("rendering %s/%s: %w", page, name, err)
	}
	return buf.Bytes(), nil
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	v := view{Title: http.StatusText(status), Data: msg}
	if s != nil {
		v.CSRF, v.SignedIn = s.csrf, true
	}
	c.render(w, r, status, "error", v)
}

// static serves the embedded stylesheet, script and icon. A request naming
// the current version may be cached for good.
func (c *Console) static(w http.ResponseWriter, r *http.Request) {
	a, ok := c.pages.assets[r.PathValue("file")]
	if !ok {
		c.notFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", `"`+a.version+`"`)
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+a.version+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.Write(a.body)
}

// formatAmount is an exact decimal amount with the chain's ticker.
func formatAmount(c chains.Chain, atomic uint64) string {
	return c.FormatAmount(atomic) + " " + strings.ToUpper(string(c))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func formatDuration(d time.Duration) string {
	return strings.TrimSuffix(strings.Replace(durationText(d), ".0 ", " ", 1), ".0")
}

func durationText(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		return strconv.FormatFloat(d.Minutes(), 'f', 1, 64) + " min"
	}
	return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " h"
}

// shorten keeps the first n characters of a long hash or identifier.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func formatHTTPStatus(code int) string {
	if code == 0 {
		return "no answer"
	}
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

// badge is a state shown as a word and a colour (never the colour alone).
type badge struct {
	Class string // ok, wait, bad, off
	Text  string
}

// deliveryBadge is where a subscription's (or a notification's) delivery
// stands; active is false for an ended subscription.
func deliveryBadge(active bool, n Notification) badge {
	switch {
	case !active:
		return badge{"off", "ended"}
	case n.ID == 0:
		return badge{"off", "nothing sent yet"}
	case n.State == ledger.NoteDelivered:
		return badge{"ok", "acknowledged"}
	case n.State == ledger.NoteFailed:
		return badge{"bad", "gave up"}
	case n.Failing():
		return badge{"bad", "failing"}
	case n.State == ledger.NotePending:
		return badge{"wait", "pending"}
	case n.State == ledger.NoteSuperseded:
		return badge{"off", "superseded"}
	}
	return badge{"off", n.State}
}

// addressIndex is an address's place in the wallet: the derivation index
// (Bitcoin) or account/subaddress (Monero); "—" for an address that came
// from a subscriber.
func addressIndex(a chains.Address) string {
	switch {
	case a.DerivationIndex != nil:
		return strconv.FormatUint(uint64(*a.DerivationIndex), 10)
	case a.SubaddressIndex != nil && a.AccountIndex != nil:
		return strconv.FormatUint(uint64(*a.AccountIndex), 10) + "/" + strconv.FormatUint(uint64(*a.SubaddressIndex), 10)
	case a.SubaddressIndex != nil:
		return strconv.FormatUint(uint64(*a.SubaddressIndex), 10)
	}
	return "—"
}
