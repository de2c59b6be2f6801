package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ipnd/ipnd/api"
	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/internal/clientip"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ipn/receivertest"
	"github.com/ipnd/ipnd/ledger"
)

// The operator console runs in the api role, at /console of the API
// listener. This process's IPN worker (after each recorded attempt), its
// chain writes (blocks, reorgs, notifications made) and its API actions
// wake the console's live views through a Broadcaster; changes made by
// other processes show at the console's next poll.

// wake notifies the console's live views of a change; a no-op without the
// api role.
func (d *daemon) wake() {
	if d.live != nil {
		d.live.Notify()
	}
}

// attemptObserver tells the metrics and the console about each recorded
// delivery attempt.
func (d *daemon) attemptObserver() ipn.Observer {
	return ipn.ObserverFunc(func(n ledger.Notification, res ledger.AttemptResult) {
		d.metrics.AttemptDone(n, res)
		d.wake()
	})
}

// chainObserver counts the chain writes (metrics) and wakes the console
// after blocks and reorgs.
type chainObserver struct {
	chainsync.Observer
	wake func()
}

func (o chainObserver) BlocksApplied(c chains.Chain, n int) {
	o.Observer.BlocksApplied(c, n)
	o.wake()
}

func (o chainObserver) Reorg(c chains.Chain, depth int) {
	o.Observer.Reorg(c, depth)
	o.wake()
}

// mountConsole serves the console on srv at /console, its store the
// ledger, its sign-in the API keys. Without API keys (allow_unauthenticated
// on loopback) nobody could sign in: it is left out, and the log says so.
func (d *daemon) mountConsole(srv *api.Server) error {
	var keys []string
	for _, k := range d.cfg.Server.APIKeys {
		keys = append(keys, k.Reveal())
	}
	if len(keys) == 0 {
		d.log.Warn("the operator console is not served: it signs in with a key of server.api_keys, and there is none",
			"subsystem", "ipnd")
		return nil
	}
	var enabled []chains.Chain
	for _, c := range chains.All {
		if _, ok := d.chains[c]; ok {
			enabled = append(enabled, c)
		}
	}
	proxies, err := clientip.New(d.cfg.Server.TrustedProxies)
	if err != nil {
		return usageError{fmt.Errorf("server.trusted_proxies: %w", err)}
	}
	c, err := console.New(console.Options{
		Store: db.ConsoleStore{Ledger: d.ledger, Chains: enabled, NewSecret: ipn.NewSecret,
			SecretGrace: d.cfg.IPN.SecretGrace.D()},
		Invoices: d.ledger, // the invoice page
		Auth:     console.Keys(keys...),
		Notifier: d.live,
		Logger:   d.log,
		// Secure cookies when browsers reach ipnd over HTTPS: its own TLS,
		// or a TLS proxy in front of a plain listener (public_url https).
		Secure:     srv.TLS() || strings.HasPrefix(strings.ToLower(d.cfg.Invoices.PublicURL), "https://"),
		ClientAddr: proxies.Client,
		TestReceiver: func(ctx context.Context, url string) (receivertest.Report, error) {
			return srv.TestEndpoint(ctx, api.EndpointTest{URL: url})
		},
	})
	if err != nil {
		return err
	}
	srv.MountConsole(c)
	return nil
}
