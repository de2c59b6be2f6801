package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/metrics"
)

// shutdownGrace bounds a graceful stop.
const shutdownGrace = 10 * time.Second

var allRoles = []string{"sync", "ipn", "api"}

func parseRoles(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		known := false
		for _, a := range allRoles {
			known = known || a == r
		}
		if !known {
			return nil, usagef("serve: -roles: unknown role %q (want any of %s)", r, strings.Join(allRoles, ","))
		}
		out[r] = true
	}
	if len(out) == 0 {
		return nil, usagef("serve: -roles: name at least one of %s", strings.Join(allRoles, ","))
	}
	return out, nil
}

// role is one long-running part of the daemon. run returns when ctx ends
// (nil) or on a fatal error.
type role struct {
	name string
	run  func(ctx context.Context) error
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("serve", stderr)
	rolesFlag := fs.String("roles", strings.Join(allRoles, ","), "roles this process runs: any of sync,ipn,api")
	if err := parse(fs, args); err != nil {
		return err
	}
	roles, err := parseRoles(*rolesFlag)
	if err != nil {
		return err
	}
	// Every check check-config makes, for the roles this process runs.
	cfg, warnings, err := loadConfig(args, *path, config.Roles{Sync: roles["sync"], IPN: roles["ipn"], API: roles["api"]})
	if err != nil {
		return err
	}
	base := newLogger(cfg.Server, stderr)
	log := base.With("subsystem", "ipnd")
	for _, w := range warnings {
		log.Warn(w.Error(), "setting", w.Key)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			log.Info("stopping: finishing work in flight; a second signal exits at once", "signal", s.String(), "grace", shutdownGrace)
			cancel()
		case <-ctx.Done():
			return
		}
		s := <-sigs
		log.Warn("second signal: exiting now", "signal", s.String())
		os.Exit(1)
	}()

	reg := metrics.New()
	ledger, err := openLedger(ctx, cfg, base, reg)
	if err != nil {
		return err
	}
	defer ledger.Close()
	from, to, err := ledger.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	log.Info("ipnd starting", "version", version, "roles", *rolesFlag, "ledger", cfg.Database.Driver,
		"schema_from", from, "schema", to)

	d, err := buildRoles(ctx, cfg, ledger, reg, roles, base)
	if err != nil {
		return err
	}
	go d.supervise(ctx, log)
	err = runRoles(ctx, cancel, d.roles, log)
	d.notifier.notify("STOPPING=1")
	return err
}

// supervise tells systemd when the daemon is ready (migrated, chain nodes
// answering) and, with WatchdogSec set, pings the watchdog only while every
// loop of this process makes progress.
func (d *daemon) supervise(ctx context.Context, log *slog.Logger) {
	for {
		if d.nodesAnswered() {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	d.notifier.notify("READY=1")
	log.Info("ready")
	interval := watchdogInterval()
	if interval <= 0 {
		return
	}
	go d.trackProgress(ctx, interval/4)
	runWatchdog(ctx, d.notifier, d.progress, interval, log)
}

// nodesAnswered: every chain this process syncs has been reached once (a
// chain another process syncs while this one stands by counts as answered).
func (d *daemon) nodesAnswered() bool {
	for name, c := range d.chains {
		if _, waiting := d.standby.Load(name); waiting {
			continue
		}
		switch c.Status().State {
		case chains.Starting, chains.Unreachable, "":
			return false
		}
	}
	return true
}

// runRoles runs every role until ctx ends or one fails, then gives them
// shutdownGrace to finish.
func runRoles(ctx context.Context, cancel context.CancelFunc, parts []role, log *slog.Logger) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", p.name, err)
				cancel()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	<-ctx.Done()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		log.Error("graceful stop took too long; exiting", "grace", shutdownGrace)
	}
	var all []error // roles still running after the grace may add more: never close errs
	for len(errs) > 0 {
		all = append(all, <-errs)
	}
	if len(all) > 0 {
		return errors.Join(all...)
	}
	log.Info("ipnd stopped")
	return nil
}
