package console

import (
	"errors"
	"fmt"
	"github.com/ipnd/ipnd/internal/weburl"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Every action is a POST form (checked by checkForm) answered with a
// redirect to the page it concerns and a flash message there (so a reload
// does not repeat it).

func (c *Console) done(w http.ResponseWriter, r *http.Request, s *session, to string, f *flash) {
	s.setFlash(f)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// actionError answers a failed action on the page it came from.
func (c *Console) actionError(w http.ResponseWriter, r *http.Request, s *session, to, what string, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		c.done(w, r, s, to, errorFlash(what+": not found, or already ended."))
	default:
		c.log.Error("console action failed", "action", what, "err", err)
		c.done(w, r, s, to, errorFlash(what+" failed: the ledger did not answer. Try again in a moment."))
	}
}

func (c *Console) redeliver(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := c.pathID(w, r, s)
	if !ok {
		return
	}
	to := c.path("/subscriptions/" + strconv.FormatInt(id, 10))
	what := "Redelivering subscription " + strconv.FormatInt(id, 10)
	if _, err := c.o.Store.Redeliver(r.Context(), id); err != nil {
		c.actionError(w, r, s, to, what, err)
		return
	}
	c.log.Info("operator redelivered a subscription", "subscription", id)
	c.done(w, r, s, to, &flash{Message: what + ": its current totals are due now."})
}

func (c *Console) endSubscription(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := c.pathID(w, r, s)
	if !ok {
		return
	}
	to := c.path("/subscriptions/" + strconv.FormatInt(id, 10))
	what := "Ending subscription " + strconv.FormatInt(id, 10)
	if r.PostForm.Get("confirm") != "yes" {
		c.done(w, r, s, to, errorFlash(what+": tick the box to confirm first."))
		return
	}
	if err := c.o.Store.Unsubscribe(r.Context(), id); err != nil {
		c.actionError(w, r, s, to, what, err)
		return
	}
	c.log.Info("operator ended a subscription", "subscription", id)
	c.done(w, r, s, to, &flash{Message: "Subscription " + strconv.FormatInt(id, 10) + " ended: no more IPNs go out for it."})
}

// endpointURL reads the form's url field; "" when it is missing or too long.
func endpointURL(r *http.Request) string {
	u := strings.TrimSpace(r.PostForm.Get("url"))
	if len(u) > maxParam {
		return ""
	}
	return u
}

// endpointPage is the endpoints page narrowed to one URL.
func (c *Console) endpointPage(u string) string {
	if u == "" {
		return c.path("/endpoints")
	}
	return c.path("/endpoints") + "?" + url.Values{"prefix": {u}}.Encode()
}

func (c *Console) redeliverEndpoint(w http.ResponseWriter, r *http.Request, s *session) {
	u := endpointURL(r)
	to := c.endpointPage(u)
	if u == "" {
		c.done(w, r, s, to, errorFlash("Redelivering: which endpoint? The form had no URL."))
		return
	}
	n, err := c.o.Store.RedeliverFailing(r.Context(), u)
	if err != nil {
		c.actionError(w, r, s, to, "Redelivering to "+u, err)
		return
	}
	c.log.Info("operator redelivered an endpoint's failing subscriptions", "host", weburl.Host(u), "subscriptions", n)
	msg := "Redelivering " + strconv.Itoa(n) + " failing subscriptions to " + u + "."
	switch n {
	case 0:
		msg = "Nothing was failing for " + u + "."
	case 1:
		msg = "Redelivering 1 failing subscription to " + u + "."
	}
	c.done(w, r, s, to, &flash{Message: msg})
}

func (c *Console) rotateSecret(w http.ResponseWriter, r *http.Request, s *session) {
	u := endpointURL(r)
	to := c.endpointPage(u)
	if u == "" {
		c.done(w, r, s, to, errorFlash("Rotating: which endpoint? The form had no URL."))
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		c.done(w, r, s, to, errorFlash("Rotating the secret of "+u+": tick the box to confirm first."))
		return
	}
	rot, err := c.o.Store.RotateSecret(r.Context(), u)
	if err != nil {
		c.actionError(w, r, s, to, "Rotating the secret of "+u, err)
		return
	}
	c.log.Info("operator rotated an endpoint's secret", "host", weburl.Host(u))
	msg := "New signing secret for " + u + ". It is shown this once: copy it to the receiver now."
	if !rot.PreviousValidUntil.IsZero() {
		msg += " IPNs carry both signatures until " + formatTime(rot.PreviousValidUntil) + "."
	}
	c.done(w, r, s, to, &flash{Message: msg, Secret: rot.Secret})
}

// testReceiver runs the receiver test kit against the endpoint (signed
// with its secret) and shows the report on its page.
func (c *Console) testReceiver(w http.ResponseWriter, r *http.Request, s *session) {
	u := endpointURL(r)
	to := c.endpointPage(u)
	if u == "" {
		c.done(w, r, s, to, errorFlash("Testing: which endpoint? The form had no URL."))
		return
	}
	rep, err := c.o.TestReceiver(r.Context(), u)
	if err != nil && len(rep.Steps) == 0 {
		if errors.Is(err, ErrNotFound) {
			c.done(w, r, s, to, errorFlash("Testing "+u+": no subscription uses this URL, so it has no secret."))
			return
		}
		c.log.Warn("receiver test could not run", "host", weburl.Host(u), "err", err)
		c.done(w, r, s, to, errorFlash("Testing "+u+" failed: "+err.Error()))
		return
	}
	c.log.Info("operator tested a receiver", "host", weburl.Host(u), "pass", rep.Pass)
	f := &flash{Report: &rep, Error: !rep.Pass,
		Message: fmt.Sprintf("Receiver test of %s: %d of %d required steps passed.", u, rep.Passed, rep.Required)}
	if rep.Pass {
		f.Message = fmt.Sprintf("Receiver test of %s: every required step passed (%d of %d).", u, rep.Passed, rep.Required)
	}
	if err != nil {
		f.Message += " It stopped early: " + err.Error() + "."
	}
	c.done(w, r, s, to, f)
}
