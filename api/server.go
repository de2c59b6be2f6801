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
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/checkout"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/internal/clientip"
	"github.com/ipnd/ipnd/ledger"
	"github.com/ipnd/ipnd/metrics"
)

// OpsLedger is what the health, readiness and metrics endpoints need of
// the ledger (*db.Ledger).
type OpsLedger interface {
	Ping(ctx context.Context) error
	// Heartbeats are the sync role's last reports, per chain.
	Heartbeats(ctx context.Context) (map[chains.Chain]ledger.Heartbeat, error)
	NotificationCounts(ctx context.Context) (map[string]int64, error)
}

// Ledger is what the API needs of the ledger (*db.Ledger).
type Ledger interface {
	OpsLedger
	Balance(ctx context.Context, c chains.Chain, addr string, maxConfirms int) (ledger.Totals, []ledger.Deposit, error)
	AddressBalance(ctx context.Context, c chains.Chain, addr string, maxConfirms int) (ledger.AddressBalance, error)
	AddressByString(ctx context.Context, c chains.Chain, addr string) (chains.Address, error)
	AddressByIndex(ctx context.Context, c chains.Chain, index uint32) (chains.Address, error)
	Subscribe(ctx context.Context, c chains.Chain, addr, url string, maxConfirms int, format, secret string) (ledger.Subscription, bool, error)
	Unsubscribe(ctx context.Context, id int64) error
	Subscription(ctx context.Context, id int64) (ledger.Subscription, error)
	Redeliver(ctx context.Context, id int64) (ledger.Notification, error)
	Attempts(ctx context.Context, subscriptionID int64, limit int) ([]ledger.Attempt, error)
	Notifications(ctx context.Context, subscriptionID int64, limit int) ([]ledger.Notification, error)
	RotateEndpointSecret(ctx context.Context, url, newSecret string, grace time.Duration) (ledger.Endpoint, error)
	Endpoint(ctx context.Context, url string) (ledger.Endpoint, error)
	// The lists (package ledger documents them).
	ListAddresses(ctx context.Context, q ledger.AddressQuery) (ledger.Page[chains.Address], error)
	ListSubscriptions(ctx context.Context, q ledger.SubscriptionQuery) (ledger.Page[ledger.SubscriptionView], error)
	ListNotifications(ctx context.Context, q ledger.NotificationQuery) (ledger.Page[ledger.NotificationView], error)
	RedeliverAll(ctx context.Context, q ledger.SubscriptionQuery) ([]int64, error)
}

// Chain is what the API needs of one enabled chain adapter.
//
// Errors: an error wrapping ErrRejected (or ledger.ErrIndexTaken /
// ledger.ErrAddressTaken) is the request's fault and answered 4xx with its
// message; any other error is answered 503 without details (and logged).
type Chain interface {
	// Allocate hands out a new receiving address: the next unused
	// derivation index (Bitcoin) or a new subaddress (Monero), recorded in
	// the ledger with label.
	Allocate(ctx context.Context, label string) (chains.Address, error)
	// AddressAt returns the address at a fixed derivation index (Bitcoin),
	// recorded in the ledger; the same index again returns the same address.
	// A chain without fixed indexes returns an error wrapping ErrRejected.
	AddressAt(ctx context.Context, index uint32, label string) (chains.Address, error)
	// Watch starts watching an address given by a subscriber and records it
	// in the ledger (idempotent). It refuses, wrapping ErrRejected, an
	// address it cannot watch (Monero: not a subaddress of the wallet's
	// account).
	Watch(ctx context.Context, addr string) (chains.Address, error)
	// Canonical checks an address's syntax and network, without side
	// effects, and returns the one form the ledger stores it in: bech32
	// lower case (BIP173 allows an all-upper-case form, common from QR
	// codes), base58 exactly as given (it is case-sensitive).
	Canonical(addr string) (string, error)
	// Status is this process's watcher status (nil watcher: another
	// process follows the chain). Readiness and the chain metrics read the
	// sync role's heartbeats in the ledger instead, in every process.
	Status() chains.Status
}

// ErrRejected marks an adapter error caused by the request (answered 400):
// chains.ErrRejected, which the chain adapters wrap.
var ErrRejected = chains.ErrRejected

// URLChecker validates a subscriber URL (ipn.CheckURL).
type URLChecker func(ctx context.Context, rawURL string, allowPrivate bool) error

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

// Console is the operator console (*console.Console), served at /console
// without the API key (it has its own sign-in).
type Console interface {
	http.Handler
	// Close ends its sessions and live streams (called when the server
	// stops: an open event stream would hold a graceful stop).
	Close()
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

// OpsOptions configures a metrics listener.
type OpsOptions struct {
	Ledger OpsLedger
	// Chains are the enabled chains: readiness needs a fresh heartbeat of
	// each.
	Chains []chains.Chain
	// Listen is [server] metrics_listen.
	Listen  string
	Logger  *slog.Logger
	Metrics *metrics.Registry
}

// NewOps builds the metrics listener of [server] metrics_listen: /metrics,
// /healthz and /readyz (the API's handlers) without a key, in any process,
// whatever its roles.
func NewOps(o OpsOptions) (*Server, error) {
	if o.Ledger == nil {
		return nil, errors.New("metrics listener: no ledger")
	}
	s := &Server{ops: true, opsL: o.Ledger, metrics: o.Metrics}
	s.o.Server.Listen = o.Listen
	s.o.Now = time.Now
	l := o.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	s.log = l.With("subsystem", "api")
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	for _, c := range o.Chains {
		if !c.Valid() {
			return nil, fmt.Errorf("metrics listener: unknown chain %q", c)
		}
		s.watched = append(s.watched, c)
	}
	sort.Slice(s.watched, func(i, j int) bool { return s.watched[i] < s.watched[j] })
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

// HeartbeatMaxAge is how old the sync role's heartbeat of a chain may be
// for the chain to count as followed (it is written every few seconds).
const HeartbeatMaxAge = 30 * time.Second

// Stale is the chain state of readiness and metrics when the chain's
// heartbeat is older than HeartbeatMaxAge or missing: no process follows
// it (or it is stuck).
const Stale = metrics.StateStale

// chainStatus is one enabled chain as readiness and metrics see it.
type chainStatus struct {
	chains.Status
	Age  time.Duration // of the heartbeat; -1 when there is none
	Read bool          // the heartbeats could be read
}

// chainStatuses reads the sync role's heartbeats of the enabled chains,
// in chain order: a chain whose heartbeat is missing or older than
// HeartbeatMaxAge is Stale, whatever it last said.
func (s *Server) chainStatuses(ctx context.Context) ([]chainStatus, error) {
	hbs, err := s.opsL.Heartbeats(ctx)
	out := make([]chainStatus, 0, len(s.watched))
	for _, c := range s.watched {
		st := chainStatus{Status: chains.Status{Chain: c, State: Stale}, Age: -1, Read: err == nil}
		if hb, ok := hbs[c]; ok {
			st.Age, st.LastPoll = hb.Age, hb.BeatAt
			st.Height, st.NodeHeight, st.Feed, st.Error = hb.Height, hb.NodeHeight, hb.Feed, hb.Error
			st.Behind = max(hb.NodeHeight-hb.Height, 0)
			if hb.Age <= HeartbeatMaxAge {
				st.State = chains.SyncState(hb.State)
			} else {
				st.Error = fmt.Sprintf("no heartbeat from the sync role for %s (last: %s)", hb.Age.Round(time.Second), hb.State)
			}
		} else if err == nil {
			st.Error = "no sync role has followed this chain yet (no heartbeat)"
		}
		out = append(out, st)
	}
	return out, err
}

// statuses is chainStatuses for the metrics (read at scrape time).
func (s *Server) statuses() []chains.Status {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	sts, err := s.chainStatuses(ctx)
	if err != nil {
		s.log.Warn("metrics: read heartbeats", "err", err)
	}
	out := make([]chains.Status, len(sts))
	for i, st := range sts {
		out[i] = st.Status
	}
	return out
}

// ListenAndServe listens on server.listen and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.o.Server.Listen)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", s.o.Server.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (with TLS when configured) until ctx ends, then stops
// accepting and gives requests in flight up to ShutdownGrace to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.console != nil {
		srv.RegisterOnShutdown(s.console.Close)
	}
	if s.tls != nil {
		srv.TLSConfig = s.tls.Clone()
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	if s.checkout != nil {
		srv.RegisterOnShutdown(s.checkout.Close) // end the checkout pages' live streams
	}
	s.log.Info("API listening", "addr", ln.Addr().String(), "tls", s.tls != nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("api: graceful stop: %w", err)
	}
	<-errc
	s.log.Info("API stopped")
	return err
}

// authorized checks the bearer key against every configured key in
// constant time (the keys are compared as SHA-256 digests, so their
// lengths do not leak either).
func (s *Server) authorized(r *http.Request) bool {
	if s.o.Server.AllowUnauthenticated {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(key)))
	match := 0
	for _, k := range s.keys {
		match |= subtle.ConstantTimeCompare(got[:], k[:])
	}
	return match == 1
}
