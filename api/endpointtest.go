package api

// POST /endpoints/test: the receiver test kit against a shop's endpoint,
// signed with the endpoint's secret (or one given).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/internal/weburl"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ipn/receivertest"
	"github.com/ipnd/ipnd/ledger"
)

// Bounds of one receiver test run from the API or the console: each of its
// ten steps waits at most EndpointTestStep (or [ipn] timeout, when shorter)
// for the receiver, the whole run at most EndpointTestDeadline, well
// within the server's write timeout.
const (
	EndpointTestStep     = 4 * time.Second
	EndpointTestDeadline = 45 * time.Second
)

// EndpointTest is what a receiver test runs against: URL (required), and
// optionally the Secret (default: the URL's endpoint's), the Format and
// Chain (default: those of the endpoint's newest subscription, else json
// and the first enabled chain).
type EndpointTest struct {
	URL, Secret, Format string
	Chain               chains.Chain
}

// TestEndpoint runs the receiver test kit against an endpoint as described
// by t, within EndpointTestDeadline. A receiver's failures are in the
// report; the error is for a test that could not run (no such endpoint and
// no secret: wrapping ledger.ErrNotFound; a URL ipnd may not post to:
// wrapping ipn.ErrForbiddenTarget or receivertest.ErrInvalidOptions) or
// that was cut short (the report holds the steps done).
func (s *Server) TestEndpoint(ctx context.Context, t EndpointTest) (receivertest.Report, error) {
	if t.Secret == "" {
		e, err := s.o.Ledger.Endpoint(ctx, t.URL)
		if err != nil {
			return receivertest.Report{}, fmt.Errorf("endpoint %s: %w", t.URL, err)
		}
		t.Secret = e.Secret
	}
	if t.Format == "" || t.Chain == "" {
		page, err := s.o.Ledger.ListSubscriptions(ctx, ledger.SubscriptionQuery{URL: t.URL, Cursor: ledger.Cursor{Limit: 1}})
		if err != nil {
			return receivertest.Report{}, err
		}
		if len(page.Items) > 0 {
			if t.Format == "" {
				t.Format = page.Items[0].Format
			}
			if t.Chain == "" {
				t.Chain = page.Items[0].Chain
			}
		}
	}
	if t.Chain == "" && len(s.order) > 0 {
		t.Chain = s.order[0]
	}
	step := EndpointTestStep
	if d := s.o.IPN.Timeout.D(); d > 0 && d < step {
		step = d
	}
	ctx, cancel := context.WithTimeout(ctx, EndpointTestDeadline)
	defer cancel()
	rep, err := receivertest.Run(ctx, receivertest.Options{URL: t.URL, Secret: t.Secret, Format: t.Format, Chain: t.Chain,
		Network: s.o.Networks[t.Chain], AllowPrivate: s.o.IPN.AllowPrivateTargets, Version: s.o.Version, StepTimeout: step})
	s.log.Info("receiver test", "host", weburl.Host(t.URL), "pass", rep.Pass, "passed", rep.Passed, "required", rep.Required, "err", err)
	return rep, err
}

// testedJSON is the report, with the reason a run stopped early.
type testedJSON struct {
	receivertest.Report
	Error string `json:"error,omitempty"`
}

func (s *Server) testEndpoint(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	var t EndpointTest
	var ok bool
	if t.URL, ok, err = p.str("url", maxURLLen); err != nil {
		return err
	} else if !ok {
		return badField("url", "required: the receiver URL to test")
	}
	if t.Secret, _, err = p.str("secret", 256); err != nil {
		return err
	}
	if _, given, err := p.str("format", 16); err != nil {
		return err
	} else if given {
		if t.Format, err = format(p); err != nil {
			return err
		}
	}
	if name, given, err := p.str("chain", 16); err != nil {
		return err
	} else if given {
		if t.Chain, err = s.enabled("chain", name); err != nil {
			return err
		}
	}
	rep, err := s.TestEndpoint(r.Context(), t)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Field: "url", Message: "no subscription ever used this URL, so it has no secret: " +
			"give the URL exactly as subscribed, or the secret to sign with"}
	case errors.Is(err, receivertest.ErrInvalidOptions), errors.Is(err, ipn.ErrForbiddenTarget):
		return badField("url", "%s", strings.TrimPrefix(err.Error(), "receiver test: "))
	case err != nil && len(rep.Steps) == 0:
		return err
	}
	out := testedJSON{Report: rep}
	if err != nil {
		out.Error = "stopped early: " + err.Error()
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}
