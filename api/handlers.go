package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// Field limits.
const (
	maxAddressLen = 256
	maxURLLen     = 2048
	maxLabelLen   = 200
	// MaxConfirmsLimit is the highest max_confirms accepted (the ledger's).
	MaxConfirmsLimit = ledger.MaxConfirmsLimit
	// attemptsShown is how many delivery attempts GET /subscriptions/{id} lists.
	attemptsShown = 10
)

//go:embed openapi.json
var openAPISpec []byte

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode answer", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers err: an *Error as given; an adapter's rejection as
// 400/409; anything else (the ledger or a node is down) as 503 without
// details, which are logged. plain answers the text "fail" (/btc_ipn) with
// the reason in the X-Ipnd-Error header.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, plain bool, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			e = &Error{Status: 499, Message: "request cancelled"}
		} else {
			s.log.Warn("request failed", "route", r.Pattern, "method", r.Method, "err", err)
			e = &Error{Status: http.StatusServiceUnavailable, Message: "temporarily unavailable; try again later"}
		}
	}
	if plain {
		msg := e.Message
		if e.Field != "" {
			msg = e.Field + ": " + msg
		}
		h := w.Header()
		h.Set("X-Ipnd-Error", strings.Map(func(r rune) rune {
			if r < 0x20 || r >= 0x7f {
				return '?'
			}
			return r
		}, msg))
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(e.Status)
		_, _ = w.Write([]byte("fail"))
		return
	}
	body := map[string]string{"error": e.Message}
	if e.Field != "" {
		body["field"] = e.Field
	}
	s.writeJSON(w, e.Status, body)
}

// adapterError turns an adapter's error into an answer about field.
func adapterError(field string, err error) error {
	switch {
	case errors.Is(err, ledger.ErrIndexTaken), errors.Is(err, ledger.ErrAddressTaken):
		return &Error{Status: http.StatusConflict, Field: field, Message: err.Error()}
	case errors.Is(err, ErrRejected):
		return badField(field, "%s", strings.TrimPrefix(err.Error(), ErrRejected.Error()+": "))
	}
	return err
}

// enabled resolves a chain name to an enabled chain.
func (s *Server) enabled(field, name string) (chains.Chain, error) {
	c, err := chains.ParseChain(name)
	if err != nil {
		return "", badField(field, "unknown chain %q; use %s", name, chains.Choices())
	}
	if _, ok := s.o.Chains[c]; !ok {
		return "", badField(field, "chain %s is not enabled on this server", c)
	}
	return c, nil
}

// chainOf recognises the chain of addr (or checks it against the chain
// the request names) and returns the address's canonical form: every
// endpoint looks addresses up and records them in that one form.
func (s *Server) chainOf(p *params, addr string) (chains.Chain, string, error) {
	name, named, err := p.str("chain", 16)
	if err != nil {
		return "", "", err
	}
	if named {
		c, err := s.enabled("chain", name)
		if err != nil {
			return "", "", err
		}
		canonical, err := s.canonical(c, addr)
		return c, canonical, err
	}
	for _, c := range s.order {
		if canonical, err := s.o.Chains[c].Canonical(addr); err == nil {
			return c, canonical, nil
		}
	}
	names := make([]string, len(s.order))
	for i, c := range s.order {
		names[i] = string(c)
	}
	return "", "", badField("address", "not a valid address of an enabled chain (%s) on this server's network", strings.Join(names, ", "))
}

// canonical checks addr as an address of chain c (enabled) and returns its
// canonical form.
func (s *Server) canonical(c chains.Chain, addr string) (string, error) {
	a, enabled := s.o.Chains[c]
	if !enabled {
		return "", badField("address", "chain %s is not enabled on this server", c)
	}
	canonical, err := a.Canonical(addr)
	if err != nil {
		return "", badField("address", "not a valid %s address for this server's network: %s", c,
			strings.TrimPrefix(err.Error(), ErrRejected.Error()+": "))
	}
	return canonical, nil
}

func (s *Server) maxConfirms(p *params) (int, error) {
	n, ok, err := p.uint("max_confirms", 0, MaxConfirmsLimit)
	if err != nil {
		return 0, err
	}
	if !ok {
		return s.o.IPN.MaxConfirms, nil
	}
	return int(n), nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func pathID(r *http.Request) (int64, error) {
	v := r.PathValue("id")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || !allDigits(v) {
		return 0, badField("id", "must be a positive integer subscription id")
	}
	return n, nil
}
