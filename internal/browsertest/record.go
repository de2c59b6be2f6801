package browsertest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
)

// Request is one network request the page made (a redirect hop is a
// request of its own), as Chromium's network events report it.
type Request struct {
	URL    string
	Method string
	Type   string // Document, Stylesheet, Image, Fetch, EventSource, WebSocket, ...
	Status int64  // 0 while no response came
	// Bytes is what came over the wire for it: headers and encoded body as
	// Network.loadingFinished reports it, or, for a response still streaming
	// (an EventSource), the encoded bytes received so far.
	Bytes    int64
	Finished bool
	// Failed holds the browser's error text (net::ERR_...) and, when the
	// browser itself refused the request, the reason (csp, mixed-content, ...).
	Failed        string
	BlockedReason string
	// PageOrigin is the page's origin (of the URL last passed to
	// Navigate) when the request was made.
	PageOrigin string
}

// CSPViolation is one Content-Security-Policy violation the page caused.
type CSPViolation struct {
	Directive  string // the violated directive, e.g. img-src
	BlockedURL string // the blocked URL, or "inline" / "eval"
	ReportOnly bool
	Source     string // where: URL:line when the browser says
}

func (v CSPViolation) String() string {
	s := fmt.Sprintf("CSP %s blocked %s", v.Directive, v.BlockedURL)
	if v.ReportOnly {
		s += " (report-only)"
	}
	if v.Source != "" {
		s += " at " + v.Source
	}
	return s
}

// recorder collects a tab's events. Chromedp calls onEvent in the tab's
// read loop, in arrival order; it must not block or send commands.
type recorder struct {
	mu         sync.Mutex
	pageOrigin string
	requests   []*Request
	byID       map[network.RequestID]*Request
	console    []string
	csp        []CSPViolation
}

func newRecorder() *recorder {
	return &recorder{byID: map[network.RequestID]*Request{}}
}

func (r *recorder) onEvent(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request == nil {
			return
		}
		req := &Request{URL: ev.Request.URL, Method: ev.Request.Method, Type: string(ev.Type), PageOrigin: r.pageOrigin}
		if prev, ok := r.byID[ev.RequestID]; ok && ev.RedirectResponse != nil {
			prev.Status = ev.RedirectResponse.Status
			prev.Bytes = int64(ev.RedirectResponse.EncodedDataLength)
			prev.Finished = true
		}
		r.requests = append(r.requests, req)
		r.byID[ev.RequestID] = req
	case *network.EventWebSocketCreated:
		req := &Request{URL: ev.URL, Method: "GET", Type: "WebSocket", PageOrigin: r.pageOrigin}
		r.requests = append(r.requests, req)
		r.byID[ev.RequestID] = req
	case *network.EventResponseReceived:
		if req := r.byID[ev.RequestID]; req != nil && ev.Response != nil {
			req.Status = ev.Response.Status
		}
	case *network.EventDataReceived:
		if req := r.byID[ev.RequestID]; req != nil && !req.Finished {
			req.Bytes += ev.EncodedDataLength
		}
	case *network.EventLoadingFinished:
		if req := r.byID[ev.RequestID]; req != nil {
			req.Bytes = int64(ev.EncodedDataLength)
			req.Finished = true
		}
	case *network.EventLoadingFailed:
		if req := r.byID[ev.RequestID]; req != nil {
			req.Failed = ev.ErrorText
			req.BlockedReason = string(ev.BlockedReason)
			req.Finished = true
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			r.console = append(r.console, "console."+string(ev.Type)+": "+argsText(ev.Args))
		}
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			r.console = append(r.console, fmt.Sprintf("exception: %s (%s:%d)", text, d.URL, d.LineNumber+1))
		}
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil && e.Level == log.EntryLevelError {
			r.console = append(r.console, fmt.Sprintf("%s: %s", e.Source, e.Text))
		}
	case *audits.EventIssueAdded:
		is := ev.Issue
		if is == nil || is.Code != audits.InspectorIssueCodeContentSecurityPolicyIssue ||
			is.Details == nil || is.Details.ContentSecurityPolicyIssueDetails == nil {
			return
		}
		d := is.Details.ContentSecurityPolicyIssueDetails
		v := CSPViolation{Directive: d.ViolatedDirective, BlockedURL: d.BlockedURL, ReportOnly: d.IsReportOnly}
		if v.BlockedURL == "" { // kInlineViolation, kEvalViolation, ...
			kind := strings.TrimSuffix(strings.TrimPrefix(string(d.ContentSecurityPolicyViolationType), "k"), "Violation")
			v.BlockedURL = strings.ToLower(kind)
		}
		if loc := d.SourceCodeLocation; loc != nil {
			v.Source = fmt.Sprintf("%s:%d", loc.URL, loc.LineNumber+1)
		}
		r.csp = append(r.csp, v)
	}
}

// argsText renders console arguments roughly as DevTools shows them.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a == nil:
		case len(a.Value) > 0:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// snapshot copies the requests from index from on.
func (r *recorder) snapshot(from int) []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, 0, len(r.requests)-from)
	for _, req := range r.requests[from:] {
		out = append(out, *req)
	}
	return out
}

func (r *recorder) origin() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pageOrigin
}

// origin is scheme://host[:port] of u, lower-cased, with the default port
// dropped; "" for URLs that never reach the network (data:, blob:, about:).
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "invalid:" + u
	}
	switch p.Scheme {
	case "data", "blob", "about", "javascript":
		return ""
	}
	host := strings.ToLower(p.Hostname())
	port := p.Port()
	if (p.Scheme == "http" || p.Scheme == "ws") && port == "80" || (p.Scheme == "https" || p.Scheme == "wss") && port == "443" {
		port = ""
	}
	scheme := p.Scheme
	// A WebSocket to the page's own host and port is same-origin traffic.
	switch scheme {
	case "ws":
		scheme = "http"
	case "wss":
		scheme = "https"
	}
	if port != "" {
		return scheme + "://" + net.JoinHostPort(host, port)
	}
	if strings.Contains(host, ":") {
		return scheme + "://[" + host + "]"
	}
	return scheme + "://" + host
}
