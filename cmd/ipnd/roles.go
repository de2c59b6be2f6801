package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
)

// buildRoles makes the parts of the daemon this process runs.
func buildRoles(ctx context.Context, cfg config.Config, ledger *db.Ledger, roles map[string]bool, log *slog.Logger) ([]role, error) {
	return nil, nil
}

// chainProblems runs the chain adapters' own configuration checks.
func chainProblems(cfg config.Config) config.Problems {
	return nil
}

func runDerive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return usagef("derive: not available yet")
}
