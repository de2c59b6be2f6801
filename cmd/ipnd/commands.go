package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ipn"
)

// readConfig reads the configuration: the file (a file named with -config
// must exist; the default settings.toml may be absent), defaults and
// IPND_* variables. It returns Load's problems as they are.
func readConfig(fsArgs []string, path string) (config.Config, error) {
	explicit := false
	for _, a := range fsArgs {
		if a == "-config" || a == "--config" || strings.HasPrefix(a, "-config=") || strings.HasPrefix(a, "--config=") {
			explicit = true
		}
	}
	return config.Load(path, explicit, os.Environ())
}

// loadConfig reads the configuration and runs every check `serve` with
// roles runs before it contacts anything: the loader's, the chain
// adapters' own (is the extended key public and of the configured
// network?) and the role and file checks (API keys, TLS files). Problems
// are a usage error (exit 2, one line each); warnings are returned for the
// caller to print or log.
func loadConfig(fsArgs []string, path string, roles config.Roles) (config.Config, config.Problems, error) {
	cfg, err := readConfig(fsArgs, path)
	var probs config.Problems
	if err != nil && !errors.As(err, &probs) {
		return cfg, nil, usageError{err}
	}
	for _, p := range probs {
		if p.Key == path { // unreadable or not TOML: nothing else to check
			return cfg, nil, usageError{probs}
		}
	}
	if len(probs) == 0 {
		probs = chainProblems(cfg)
	}
	serveProbs, warnings := cfg.ServeChecks(roles)
	said := map[string]bool{}
	for _, p := range probs {
		said[p.Key] = true
	}
	for _, p := range serveProbs {
		if !said[p.Key] { // a key with a wrong value is reported once
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		return cfg, warnings, usageError{probs}
	}
	return cfg, warnings, nil
}

// chainProblems runs the chain adapters' own configuration checks.
func chainProblems(cfg config.Config) config.Problems {
	var p config.Problems
	for _, f := range bitcoinSections(cfg) {
		if f.cfg.Enabled {
			p = append(p, f.fam.CheckConfig(f.cfg)...)
		}
	}
	return p
}

func newLogger(s config.Server, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(s.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if s.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openLedger opens the configured ledger (not migrated); obs (optional)
// receives its measurements. Its error names the setting, the masked DSN
// and the fix.
func openLedger(ctx context.Context, cfg config.Config, log *slog.Logger, obs db.Observer) (*db.Ledger, error) {
	l, err := db.Open(ctx, cfg.Database.Driver, cfg.Database.DSN.Reveal(), db.Options{
		Payload:  ipn.Payload,
		Logger:   log,
		Observer: obs,
	})
	if err != nil {
		return nil, fmt.Errorf("database.dsn (%s %s): %w", cfg.Database.Driver, cfg.Database.MaskedDSN(), ledgerFailure(cfg.Database, err))
	}
	return l, nil
}

// runCheckConfig validates the configuration as serve would (all roles)
// and prints it with secrets masked, the warnings on standard error; with
// -connect it reaches the ledger, nodes and wallets instead of printing it.
func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("check-config", stderr)
	connect := fs.Bool("connect", false, "also open the ledger and reach every enabled node and wallet; one line per check, exit 1 if one fails")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, warnings, err := loadConfig(args, *path, config.AllRoles)
	printWarnings(stderr, warnings)
	if err != nil {
		return err
	}
	if *connect {
		return runConnectChecks(ctx, cfg, stdout)
	}
	fmt.Fprint(stdout, cfg.Render())
	return nil
}

// printWarnings writes one "warning: key: message" line per warning.
func printWarnings(w io.Writer, warnings config.Problems) {
	for _, p := range warnings {
		fmt.Fprintf(w, "warning: %s\n", p.Error())
	}
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("migrate", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadConfig(args, *path, config.Roles{})
	if err != nil {
		return err
	}
	log := newLogger(cfg.Server, stderr)
	l, err := openLedger(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer l.Close()
	from, to, err := l.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if from == to {
		fmt.Fprintf(stdout, "ledger schema is up to date (version %d)\n", to)
	} else {
		fmt.Fprintf(stdout, "ledger schema migrated from version %d to %d\n", from, to)
	}
	return nil
}
