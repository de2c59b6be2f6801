// Package api is ipnd's HTTP API: balances, subscriptions, address
// allocation, the original service's /btc and /btc_ipn endpoints, health,
// readiness and metrics.
//
// Requests may carry their fields as a JSON object, a form-encoded or
// multipart body, or a query string. Bad input always gets a 4xx answer with
// a JSON body {"error": "...", "field": "..."} (plain "fail" on /btc_ipn).
// Amounts are integers in atomic units internally and exact decimal strings
// at the edge; no amount ever passes through a float.
package api

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/checkout"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/internal/clientip"
	"github.com/ipnd/ipnd/metrics"
)

// Options configures a Server.
type Options struct {
	Ledger Ledger
	// Chains are the enabled chains' adapters.
	Chains map[chains.Chain]Chain
	Server config.Server
	IPN    config.IPN
	// Invoices is the [invoices] configuration (Default's when zero).
	Invoices config.Invoices
	// InvoiceLedger serves the invoice endpoints and checkout pages; nil
	// uses Ledger (*db.Ledger is both).
	InvoiceLedger InvoiceLedger
	// CheckURL validates subscriber URLs (ipn.CheckURL); required.
	CheckURL URLChecker
	// NewSecret makes subscription secrets (ipn.NewSecret); required.
	NewSecret func() (string, error)
	// Notify wakes this process's IPN worker after a subscription or
	// redelivery made a notification (ipn.Worker.Notify); optional.
	Notify func()
	// Logger receives the API's log lines (subsystem=api); nil discards.
	Logger *slog.Logger
	// Metrics is the registry served at /metrics; nil makes a private one.
	Metrics *metrics.Registry
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// Networks names each enabled chain's network (bitcoin.network:
	// "mainnet", "testnet", "signet", "regtest"): the receiver test's
	// synthetic address is of that network. A chain without one gets its
	// mainnet address.
	Networks map[chains.Chain]string
	// Version is ipnd's version, in the receiver test's User-Agent.
	Version string
}

// MaxBodyBytes caps a request body.
const MaxBodyBytes = 64 << 10

// ShutdownGrace bounds a graceful stop of Serve.
const ShutdownGrace = 10 * time.Second

// Server is the HTTP API.
type Server struct {
	o       Options
	log     *slog.Logger
	metrics *metrics.Registry
	keys    [][32]byte
	order   []chains.Chain // enabled chains, sorted
	tls     *tls.Config
	handler http.Handler
	console Console

	metricsHandler http.Handler
	// ops: a metrics listener (metrics_listen) serving only /metrics,
	// /healthz and /readyz, without a key.
	ops     bool
	opsL    OpsLedger
	ready   readyCache     // /readyz's last answer
	watched []chains.Chain // chains whose heartbeat readiness requires

	checkout *checkout.Checkout // the /pay/ pages
	orders   orderLocks         // POST /invoices per order_id
}

// New checks the options and builds the server.
func New(o Options) (*Server, error) {
	if o.Ledger == nil {
		return nil, errors.New("api: no ledger")
	}
	if o.CheckURL == nil || o.NewSecret == nil {
		return nil, errors.New("api: CheckURL and NewSecret are required")
	}
	if o.Server.AllowUnauthenticated && !config.IsLoopbackListen(o.Server.Listen) {
		return nil, fmt.Errorf("api: server.allow_unauthenticated is only allowed on a loopback listen address, not %q", o.Server.Listen)
	}
	if !o.Server.AllowUnauthenticated && len(o.Server.APIKeys) == 0 {
		return nil, errors.New("api: server.api_keys is empty: set at least one key (or allow_unauthenticated on a loopback listen address)")
	}
	if (o.Server.TLSCert == "") != (o.Server.TLSKey == "") {
		return nil, errors.New("api: server.tls_cert and server.tls_key must be set together")
	}
	if _, err := documentedFields(); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if o.InvoiceLedger == nil {
		il, ok := o.Ledger.(InvoiceLedger)
		if !ok {
			return nil, errors.New("api: the ledger does not keep invoices: set Options.InvoiceLedger")
		}
		o.InvoiceLedger = il
	}
	if o.Invoices == (config.Invoices{}) {
		o.Invoices = config.Default().Invoices
	}
	s := &Server{o: o, metrics: o.Metrics}
	if s.o.Now == nil {
		s.o.Now = time.Now
	}
	if s.o.Notify == nil {
		s.o.Notify = func() {}
	}
	l := o.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	s.log = l.With("subsystem", "api")
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	var err error
	proxies, err := clientip.New(o.Server.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("api: server.trusted_proxies: %w", err)
	}
	s.checkout, err = checkout.New(checkout.Options{Store: o.InvoiceLedger, Now: o.InvoiceLedger.Now,
		Rate: o.Invoices.CheckoutRate, ClientAddr: proxies.Client, Logger: l})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	for _, k := range o.Server.APIKeys {
		s.keys = append(s.keys, sha256.Sum256([]byte(k.Reveal())))
	}
	for c, a := range o.Chains {
		if !c.Valid() {
			return nil, fmt.Errorf("api: unknown chain %q", c)
		}
		if a == nil {
			return nil, fmt.Errorf("api: chain %s has no adapter", c)
		}
		s.order = append(s.order, c)
	}
	sort.Slice(s.order, func(i, j int) bool { return s.order[i] < s.order[j] })
	s.opsL, s.watched = o.Ledger, s.order
	if o.Server.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.Server.TLSCert, o.Server.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("api: load server.tls_cert/tls_key: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	s.metrics.SetChainStatus(s.statuses)
	s.metrics.SetNotificationCounts(o.Ledger.NotificationCounts)
	s.metricsHandler = s.metrics.Handler()
	s.handler = s.routes()
	return s, nil
}

// MountConsole serves c at /console and /console/... and closes it when
// Serve stops. Call it before Serve.
func (s *Server) MountConsole(c Console) {
	s.console = c
	s.handler = s.routes()
}

// Handler is the API's http.Handler (no TLS: Serve adds it).
func (s *Server) Handler() http.Handler { return s.handler }

// TLS reports whether Serve speaks TLS.
func (s *Server) TLS() bool { return s.tls != nil }
