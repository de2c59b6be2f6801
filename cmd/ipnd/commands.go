package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// loadConfig reads the configuration. A file named with -config must exist;
// the default settings.toml may be absent (defaults and IPND_* variables).
func loadConfig(fsArgs []string, path string) (config.Config, error) {
	explicit := false
	for _, a := range fsArgs {
		if a == "-config" || a == "--config" || strings.HasPrefix(a, "-config=") || strings.HasPrefix(a, "--config=") {
			explicit = true
		}
	}
	cfg, err := config.Load(path, explicit, os.Environ())
	if err != nil {
		return cfg, usageError{err}
	}
	if probs := chainProblems(cfg); len(probs) > 0 {
		return cfg, usageError{probs}
	}
	return cfg, nil
}

// chainProblems runs the chain adapters' own configuration checks (is the
// extended key public and of the configured network?).
func chainProblems(cfg config.Config) config.Problems {
	if cfg.Bitcoin.Enabled {
		return bitcoin.CheckConfig(cfg.Bitcoin)
	}
	return nil
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

// openLedger opens the configured ledger (not migrated).
func openLedger(ctx context.Context, cfg config.Config, log *slog.Logger) (*db.Ledger, error) {
	l, err := db.Open(ctx, cfg.Database.Driver, cfg.Database.DSN.Reveal(), db.Options{
		Payload: ipn.Payload,
		Logger:  log,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger (%s %s): %w", cfg.Database.Driver, cfg.Database.MaskedDSN(), err)
	}
	return l, nil
}

func runCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("check-config", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(args, *path)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, cfg.Render())
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("migrate", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(args, *path)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Server, stderr)
	l, err := openLedger(ctx, cfg, log)
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

func runDerive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("derive", stderr)
	chain := fs.String("chain", "btc", "chain (only btc derives addresses)")
	index := fs.Int64("index", -1, "derivation index m/0/N (0..2147483647)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c, err := chains.ParseChain(*chain); err != nil || c != chains.BTC {
		return usagef("derive: -chain: only btc derives addresses from the configured key")
	}
	if *index < 0 || *index > ledger.MaxDerivationIndex {
		return usagef("derive: -index: must be between 0 and %d", ledger.MaxDerivationIndex)
	}
	cfg, err := loadConfig(args, *path)
	if err != nil {
		return err
	}
	if cfg.Bitcoin.XPub == "" {
		return usagef("bitcoin.xpub: required to derive addresses")
	}
	d, err := bitcoin.NewDeriver(cfg.Bitcoin.Network, cfg.Bitcoin.XPub, cfg.Bitcoin.AddressType)
	if err != nil {
		return usageError{fmt.Errorf("bitcoin.xpub: %w", err)}
	}
	addr, err := d.Address(uint32(*index))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, addr)
	return nil
}
