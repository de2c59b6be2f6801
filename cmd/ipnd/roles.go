package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipnd/ipnd/api"
	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/metrics"
)

// daemon holds the parts one `ipnd serve` process runs.
type daemon struct {
	cfg      config.Config
	ledger   *db.Ledger
	hooks    chainsync.Hooks // the chain watchers' write hooks
	log      *slog.Logger
	metrics  *metrics.Registry
	progress *progress
	notifier *sdNotifier
	worker   *ipn.Worker
	chains   map[chains.Chain]api.Chain
	roles    []role
	// standby holds the chains whose sync lock another process has.
	standby sync.Map
	// live wakes the console's live views (api role only).
	live *console.Broadcaster
	// loops are the chain watchers this process runs (sync role), for the
	// watchdog: each says how long its running round has made no progress.
	loops map[chains.Chain]stallMeter
}

// stallMeter is a chain watcher's loop (chainsync.Loop.Stalled).
type stallMeter interface{ Stalled() time.Duration }

// buildRoles makes the parts of the daemon this process runs. Chain
// adapters are built whenever a chain is enabled (the API allocates and
// validates addresses with them); their watchers run only in the sync role,
// one process per chain at a time.
func buildRoles(ctx context.Context, cfg config.Config, ledger *db.Ledger, reg *metrics.Registry, roles map[string]bool, log *slog.Logger) (*daemon, error) {
	d := &daemon{
		cfg: cfg, ledger: ledger, log: log, metrics: reg, progress: newProgress(),
		notifier: newSDNotifier(log.With("subsystem", "ipnd")), chains: map[chains.Chain]api.Chain{},
		loops: map[chains.Chain]stallMeter{},
	}
	if roles["api"] {
		d.live = console.NewBroadcaster()
	}
	d.hooks.Observer = chainObserver{Observer: d.metrics, wake: d.wake}
	d.hooks.Notify = d.wake
	if roles["ipn"] {
		o := ipn.OptionsFromConfig(cfg.IPN, version, log)
		o.Observer = d.attemptObserver()
		d.worker = ipn.NewWorker(ledger, o)
		d.hooks.Notify = func() { d.worker.Notify(); d.wake() } // the in-process hand-off
		d.addRole("ipn", d.worker.Run)
		if keep := cfg.IPN.Retention.D(); keep > 0 {
			d.addRole("retention", ipn.Retention{Ledger: ledger, Keep: keep, Logger: log}.Run)
		}
	}
	syncing := false
	for _, f := range bitcoinSections(cfg) {
		if f.cfg.Enabled {
			syncing = true
			if err := d.buildBitcoinFamily(ctx, f, roles["sync"], roles["api"]); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Monero.Enabled {
		if err := d.buildMonero(roles["sync"], roles["api"]); err != nil {
			return nil, err
		}
	}
	if roles["sync"] {
		// Invoices expire at expires_at, whichever process follows the
		// chains (several may run it: each invoice expires once).
		exp := db.InvoiceExpiry{Ledger: ledger, Logger: log}
		if d.worker != nil {
			exp.Expired = func(int) { d.worker.Notify() }
		}
		d.addRole("invoice-expiry", exp.Run)
	}
	if roles["sync"] && !syncing && !cfg.Monero.Enabled {
		log.Warn("the sync role has nothing to do: none of [bitcoin], [litecoin] and [monero] is enabled", "subsystem", "ipnd")
	}
	if roles["api"] {
		notify := d.wake
		if d.worker != nil {
			notify = func() { d.worker.Notify(); d.wake() }
		}
		networks := map[chains.Chain]string{}
		for _, f := range bitcoinSections(cfg) {
			networks[f.fam.Chain] = f.cfg.Network
		}
		srv, err := api.New(api.Options{
			Ledger: ledger, Chains: d.chains, Server: cfg.Server, IPN: cfg.IPN, Invoices: cfg.Invoices,
			CheckURL: ipn.CheckURL, NewSecret: ipn.NewSecret, Notify: notify,
			Logger: log, Metrics: d.metrics, Networks: networks, Version: version,
		})
		if err != nil {
			return nil, usageError{err} // api.New's messages start with "api: "
		}
		if err := d.mountConsole(srv); err != nil {
			return nil, err
		}
		d.addRole("api", srv.ListenAndServe)
	}
	if err := d.buildMetricsListener(roles["api"]); err != nil {
		return nil, err
	}
	return d, nil
}

// buildMetricsListener serves /metrics, /healthz and /readyz on [server]
// metrics_listen, in a process of any roles; a process without the api
// role and without it cannot be watched, which is said at start.
func (d *daemon) buildMetricsListener(apiRole bool) error {
	listen := d.cfg.Server.MetricsListen
	if listen == "" {
		if !apiRole {
			d.log.Warn("this process has no API listener and server.metrics_listen is empty: nothing can scrape its metrics or "+
				"probe its readiness; set server.metrics_listen (e.g. 127.0.0.1:9464)", "subsystem", "ipnd")
		}
		return nil
	}
	var enabled []chains.Chain
	for c := range d.chains {
		enabled = append(enabled, c)
	}
	ops, err := api.NewOps(api.OpsOptions{Ledger: d.ledger, Chains: enabled, Listen: listen, Logger: d.log, Metrics: d.metrics})
	if err != nil {
		return usageError{fmt.Errorf("server.metrics_listen: %w", err)}
	}
	d.addRole("metrics", ops.ListenAndServe)
	return nil
}

func (d *daemon) addRole(name string, run func(context.Context) error) {
	d.roles = append(d.roles, role{name: name, run: run})
}

// runLocked runs a chain watcher while this process holds the chain's sync
// lock, writing the chain's heartbeat (status reports the watcher's state);
// a second sync process waits here and takes over when the first dies.
func (d *daemon) runLocked(c chains.Chain, run func(context.Context) error, status func() chains.Status) func(context.Context) error {
	return func(ctx context.Context) error {
		log := d.log.With("subsystem", string(c))
		held, release, err := d.ledger.LockChain(ctx, c, d.cfg.Database.DSN.Reveal(), func() {
			d.standby.Store(c, true)
			log.Info("another process is syncing this chain; standing by to take over")
		})
		d.standby.Delete(c)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		defer release()
		log.Info("sync lock held; following the chain")
		// The heartbeat lives exactly as long as the watcher: it is
		// stopped when run returns for any reason (an error while the lock
		// is still held included), so waiting for it cannot block.
		beatCtx, stopBeat := context.WithCancel(held)
		beats := make(chan struct{})
		go func() { defer close(beats); d.heartbeat(beatCtx, c, status, log) }()
		err = run(held)
		stopBeat()
		<-beats
		if ctx.Err() == nil && held.Err() != nil {
			return errors.New("sync lock lost; exiting so that a supervisor restarts ipnd")
		}
		return err
	}
}

func (d *daemon) buildMonero(syncRole, apiRole bool) error {
	c := d.cfg.Monero
	log := d.log // the monero package adds its own subsystem attribute
	wallet, daemonRPC, err := monero.Clients(c)
	if err != nil {
		return usageError{fmt.Errorf("monero: %w", err)}
	}
	var start *monero.Starter
	if apiRole || syncRole {
		// The start checks (a view-only wallet unless allowed otherwise, the
		// wallet-replacement guard) run as soon as wallet-rpc answers; until
		// then /readyz says why and the API answers 503 for Monero. A failing
		// check stops ipnd with its message.
		start = monero.NewStarter(wallet, daemonRPC, d.ledger, monero.StarterConfigFrom(c, log))
		d.addRole("monero-start", func(ctx context.Context) error {
			if err := start.Run(ctx); err != nil {
				return fmt.Errorf("monero: %w", err)
			}
			return nil
		})
	}
	var watcher *monero.Watcher
	if syncRole {
		wc := monero.WatcherConfigFrom(c, log)
		wc.Hooks, wc.Metrics, wc.Gate = d.hooks, d.metrics, start
		if watcher, err = monero.NewWatcherWithPush(wallet, daemonRPC, d.ledger, wc); err != nil {
			return usageError{err}
		}
		d.addRole("sync-xmr", d.runLocked(chains.XMR, watcher.Run, watcher.Status))
		d.loops[chains.XMR] = watcher
	}
	d.chains[chains.XMR] = monero.NewAPIAdapter(start, watcher, d.ledger)
	return nil
}
