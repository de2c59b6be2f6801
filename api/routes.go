package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/ipnd/ipnd/checkout"
)

// Route is one endpoint: the OpenAPI description and the test of it use the
// same table the server registers.
type Route struct {
	Method string
	Path   string // a net/http pattern path: /subscriptions/{id}
	Public bool   // served without an API key
	// Plain answers errors with the text "fail" (the original /btc_ipn).
	Plain  bool
	handle func(*Server, http.ResponseWriter, *http.Request) error
}

// allRoutes lists every endpoint the server has.
func allRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/balance", handle: (*Server).balance},
		{Method: "POST", Path: "/balance", handle: (*Server).balance},
		{Method: "POST", Path: "/subscribe", handle: (*Server).subscribe},
		{Method: "DELETE", Path: "/subscribe/{id}", handle: (*Server).unsubscribe},
		{Method: "GET", Path: "/subscriptions", handle: (*Server).subscriptionList},
		{Method: "GET", Path: "/subscriptions/{id}", handle: (*Server).subscription},
		{Method: "POST", Path: "/subscriptions/{id}/redeliver", handle: (*Server).redeliver},
		{Method: "POST", Path: "/subscriptions/redeliver", handle: (*Server).redeliverMatching},
		{Method: "GET", Path: "/notifications", handle: (*Server).notificationList},
		{Method: "POST", Path: "/endpoints/rotate", handle: (*Server).rotateEndpoint},
		{Method: "POST", Path: "/endpoints/test", handle: (*Server).testEndpoint},
		{Method: "GET", Path: "/addresses", handle: (*Server).addressList},
		{Method: "POST", Path: "/addresses", handle: (*Server).addresses},
		{Method: "POST", Path: "/invoices", handle: (*Server).createInvoice},
		{Method: "GET", Path: "/invoices", handle: (*Server).listInvoices},
		{Method: "GET", Path: "/invoices/{id}", handle: (*Server).getInvoice},
		{Method: "POST", Path: "/invoices/{id}/cancel", handle: (*Server).cancelInvoice},
		{Method: "GET", Path: checkout.PagePattern, Public: true, handle: (*Server).pay},
		{Method: "GET", Path: checkout.EventsPattern, Public: true, handle: (*Server).pay},
		{Method: "GET", Path: checkout.QRPNGPattern, Public: true, handle: (*Server).pay},
		{Method: "GET", Path: checkout.QRSVGPattern, Public: true, handle: (*Server).pay},
		{Method: "GET", Path: checkout.CSSPath, Public: true, handle: (*Server).pay},
		{Method: "GET", Path: checkout.JSPath, Public: true, handle: (*Server).pay},
		{Method: "GET", Path: checkout.IconPath, Public: true, handle: (*Server).pay},
		{Method: "GET", Path: "/btc", handle: (*Server).btc},
		{Method: "POST", Path: "/btc", handle: (*Server).btc},
		{Method: "GET", Path: "/btc_ipn", Plain: true, handle: (*Server).btcIPN},
		{Method: "POST", Path: "/btc_ipn", Plain: true, handle: (*Server).btcIPN},
		{Method: "GET", Path: "/healthz", Public: true, handle: (*Server).healthz},
		{Method: "GET", Path: "/readyz", Public: true, handle: (*Server).readyz},
		{Method: "GET", Path: "/metrics", handle: (*Server).metricsPage},
		{Method: "GET", Path: "/openapi.json", Public: true, handle: (*Server).openAPI},
	}
}

// routes builds the handler: one mux entry per path, which dispatches on
// the method (405 with Allow otherwise), checks the key, reads the fields
// (refusing any the route's description does not list) and records
// metrics. The console, when mounted, has /console and everything under it.
func (s *Server) routes() http.Handler {
	byPath := map[string]map[string]Route{}
	var paths []string
	for _, rt := range allRoutes() {
		if s.ops {
			// The metrics listener: health, readiness and metrics, no key.
			if rt.Path != "/healthz" && rt.Path != "/readyz" && rt.Path != "/metrics" {
				continue
			}
			rt.Public = true
		}
		if byPath[rt.Path] == nil {
			byPath[rt.Path] = map[string]Route{}
			paths = append(paths, rt.Path)
		}
		byPath[rt.Path][rt.Method] = rt
	}
	mux := http.NewServeMux()
	for _, p := range paths {
		methods := byPath[p]
		var allow []string
		for m := range methods {
			allow = append(allow, m)
			if m == "GET" {
				allow = append(allow, "HEAD")
			}
		}
		sort.Strings(allow)
		mux.Handle(p, s.instrument(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m := r.Method
			if m == "HEAD" {
				m = "GET"
			}
			rt, ok := methods[m]
			if !ok {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				s.writeError(w, r, false, &Error{Status: http.StatusMethodNotAllowed, Field: "method",
					Message: fmt.Sprintf("%s is not allowed here; use %s", r.Method, strings.Join(allow, ", "))})
				return
			}
			if !rt.Public && !s.authorized(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ipnd"`)
				s.writeError(w, r, rt.Plain, &Error{Status: http.StatusUnauthorized, Field: "authorization",
					Message: "missing or wrong API key: send Authorization: Bearer KEY"})
				return
			}
			p, err := parseRequest(w, r)
			if err == nil {
				err = p.onlyKnown(knownFields(rt))
			}
			if err == nil {
				err = rt.handle(s, w, r.WithContext(context.WithValue(r.Context(), paramsKey{}, p)))
			}
			if err != nil {
				s.writeError(w, r, rt.Plain, err)
			}
		})))
	}
	if s.console != nil {
		mux.Handle("/console", s.instrument("/console", s.console))
		mux.Handle("/console/", s.instrument("/console", s.console))
	}
	mux.Handle("/", s.instrument("unmatched", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, false, &Error{Status: http.StatusNotFound, Field: "path", Message: "no such endpoint"})
	})))
	return mux
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijacking not supported")
	}
	return h.Hijack()
}

// instrument records the request's route, status and duration, and turns
// a panic into a 500 (logged with the stack, never with the request body,
// query or client address).
func (s *Server) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "route", route, "method", r.Method, "panic", fmt.Sprint(v),
					"stack", string(debug.Stack()))
				if sw.code == 0 {
					s.writeError(sw, r, false, &Error{Status: http.StatusInternalServerError, Message: "internal error"})
				}
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.ObserveHTTP(route, methodLabel(r.Method), code, d)
			s.log.Debug("request", "route", route, "method", r.Method, "status", code, "duration", d)
		}()
		next.ServeHTTP(sw, r)
	})
}

// methodLabel keeps the metrics' method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS":
		return m
	}
	return "other"
}
