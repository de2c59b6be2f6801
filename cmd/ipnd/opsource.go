package main

// Where the operator commands (subscriptions, deliveries, redeliver) read
// and act: the configuration's ledger, or a running ipnd's API (-api URL,
// the key in IPND_API_KEY). Both give the API's JSON shapes, so the output
// is the same either way.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ipnd/ipnd/api"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/internal/weburl"
	"github.com/ipnd/ipnd/ledger"
)

// apiKeyVariable holds the API key of the commands' -api mode.
const apiKeyVariable = "IPND_API_KEY"

type opsSource interface {
	subscriptions(ctx context.Context, q ledger.SubscriptionQuery) (api.SubscriptionPage, error)
	notifications(ctx context.Context, q ledger.NotificationQuery) (api.NotificationPage, error)
	// redeliver makes one subscription's newest notification due now.
	redeliver(ctx context.Context, id int64) error
	// redeliverAll redelivers every active (or failing) subscription q
	// selects and returns their ids.
	redeliverAll(ctx context.Context, q ledger.SubscriptionQuery) ([]int64, error)
	close()
}

// openSource is the API at apiURL when it is set, else the ledger of the
// configuration at path (which must be migrated to this ipnd's schema).
func openSource(ctx context.Context, args []string, path, apiURL string) (opsSource, error) {
	if apiURL != "" {
		return newAPISource(apiURL, os.Getenv(apiKeyVariable))
	}
	cfg, _, err := loadConfig(args, path, config.Roles{})
	if err != nil {
		return nil, err
	}
	l, err := openLedger(ctx, cfg, newLogger(cfg.Server, io.Discard), nil)
	if err != nil {
		return nil, err
	}
	have, err := l.SchemaVersion(ctx)
	if err == nil {
		var want int
		if want, err = l.LatestVersion(); err == nil && have != want {
			err = fmt.Errorf("the ledger's schema is version %d, this ipnd's %d: run ipnd migrate (or use the ipnd that serves it)", have, want)
		}
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("database.dsn (%s %s): %w", cfg.Database.Driver, cfg.Database.MaskedDSN(), err)
	}
	return ledgerSource{l}, nil
}

type ledgerSource struct{ l *db.Ledger }

func (s ledgerSource) close() { s.l.Close() }

func (s ledgerSource) subscriptions(ctx context.Context, q ledger.SubscriptionQuery) (api.SubscriptionPage, error) {
	p, err := s.l.ListSubscriptions(ctx, q)
	return api.SubscriptionPageOf(p), err
}

func (s ledgerSource) notifications(ctx context.Context, q ledger.NotificationQuery) (api.NotificationPage, error) {
	p, err := s.l.ListNotifications(ctx, q)
	return api.NotificationPageOf(p), err
}

func (s ledgerSource) redeliver(ctx context.Context, id int64) error {
	_, err := s.l.Redeliver(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) {
		return fmt.Errorf("no active subscription %d", id)
	}
	return err
}

func (s ledgerSource) redeliverAll(ctx context.Context, q ledger.SubscriptionQuery) ([]int64, error) {
	return s.l.RedeliverAll(ctx, q)
}

// newAPISource talks to the API at apiURL with key. A key written into the
// URL (http://KEY@host or http://user:KEY@host) is taken when key is empty
// and, like the rest of the user information, never shown: the URL in
// every message is the base without it.
func newAPISource(apiURL, key string) (*apiSource, error) {
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("-api %q: give the API's base URL, e.g. http://127.0.0.1:8080", weburl.Redact(apiURL))
	}
	if u.User != nil {
		inURL, hasPass := u.User.Password()
		if !hasPass {
			inURL = u.User.Username()
		}
		if key == "" {
			key = inURL
		}
		u.User = nil
	}
	return &apiSource{base: strings.TrimRight(u.String(), "/"), key: key, client: &http.Client{Timeout: time.Minute}}, nil
}

type apiSource struct {
	base, key string
	client    *http.Client
}

func (s *apiSource) close() { s.client.CloseIdleConnections() }

// call sends a request and decodes a 2xx answer into out; another status
// is an error with the API's message.
func (s *apiSource) call(ctx context.Context, method, path string, form url.Values, out any) error {
	var body io.Reader
	target := s.base + path
	if method == http.MethodGet && len(form) > 0 {
		target += "?" + form.Encode()
	} else if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("-api: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if s.key != "" {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("-api %s: %w", s.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("-api %s: reading the answer: %w", s.base, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error, Field string }
		_ = json.Unmarshal(b, &e)
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("-api %s: the API refused the key: set %s to one of its server.api_keys", s.base, apiKeyVariable)
		case e.Error != "" && e.Field != "":
			return fmt.Errorf("-api %s: %s %s: %s: %s", s.base, method, path, e.Field, e.Error)
		case e.Error != "":
			return fmt.Errorf("-api %s: %s %s: %s", s.base, method, path, e.Error)
		}
		return fmt.Errorf("-api %s: %s %s: HTTP %d", s.base, method, path, resp.StatusCode)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("-api %s: %s %s: not an ipnd answer: %w", s.base, method, path, err)
	}
	return nil
}

func setIf(v url.Values, key, value string) {
	if value != "" {
		v.Set(key, value)
	}
}

func subscriptionForm(q ledger.SubscriptionQuery) url.Values {
	v := url.Values{}
	setIf(v, "chain", string(q.Chain))
	setIf(v, "address", q.Address)
	setIf(v, "label", q.Label)
	setIf(v, "url", q.URL)
	setIf(v, "url_prefix", q.URLPrefix)
	setIf(v, "state", string(q.State))
	return v
}

func cursorForm(v url.Values, c ledger.Cursor) {
	v.Set("limit", strconv.Itoa(c.Limit))
	setIf(v, "after", c.After)
}

func (s *apiSource) subscriptions(ctx context.Context, q ledger.SubscriptionQuery) (api.SubscriptionPage, error) {
	v := subscriptionForm(q)
	cursorForm(v, q.Cursor)
	var p api.SubscriptionPage
	return p, s.call(ctx, http.MethodGet, "/subscriptions", v, &p)
}

func (s *apiSource) notifications(ctx context.Context, q ledger.NotificationQuery) (api.NotificationPage, error) {
	v := url.Values{}
	setIf(v, "chain", string(q.Chain))
	setIf(v, "address", q.Address)
	setIf(v, "label", q.Label)
	setIf(v, "state", q.State)
	if q.Failing {
		v.Set("state", "failing")
	}
	if q.SubscriptionID != 0 {
		v.Set("subscription_id", strconv.FormatInt(q.SubscriptionID, 10))
	}
	cursorForm(v, q.Cursor)
	var p api.NotificationPage
	return p, s.call(ctx, http.MethodGet, "/notifications", v, &p)
}

func (s *apiSource) redeliver(ctx context.Context, id int64) error {
	var out map[string]any
	return s.call(ctx, http.MethodPost, "/subscriptions/"+strconv.FormatInt(id, 10)+"/redeliver", url.Values{}, &out)
}

func (s *apiSource) redeliverAll(ctx context.Context, q ledger.SubscriptionQuery) ([]int64, error) {
	var out struct {
		IDs []int64 `json:"ids"`
	}
	err := s.call(ctx, http.MethodPost, "/subscriptions/redeliver", subscriptionForm(q), &out)
	return out.IDs, err
}
