package ipn

import (
	"context"
	"log/slog"
	"time"

	"github.com/ipnd/ipnd/ledger"
)

// Pruner is what retention needs of the ledger (*db.Ledger).
type Pruner interface {
	Now() time.Time
	PruneOlderThan(ctx context.Context, cutoff time.Time, batch int, pause time.Duration) (ledger.Pruned, error)
}

// Retention deletes what [ipn] retention ends: delivered and superseded
// notifications and delivery attempts older than Keep, in small batches
// (the newest notification of every subscription, and anything pending or
// failed, is kept). The ipn role runs it.
type Retention struct {
	Ledger Pruner
	Keep   time.Duration // [ipn] retention; 0 = keep everything (Run returns at once)
	// Every is the time between passes (default 10 min); the first pass
	// runs a minute after start.
	Every time.Duration
	// Batch rows per statement (default 500) and Pause between batches
	// (default 50 ms): deletion never holds the ledger for long.
	Batch  int
	Pause  time.Duration
	Logger *slog.Logger
}

// Run makes a pass every Every until ctx ends.
func (r Retention) Run(ctx context.Context) error {
	if r.Keep <= 0 {
		return nil
	}
	if r.Every <= 0 {
		r.Every = 10 * time.Minute
	}
	if r.Batch <= 0 {
		r.Batch = 500
	}
	if r.Pause <= 0 {
		r.Pause = 50 * time.Millisecond
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("subsystem", "ipn")
	wait := min(time.Minute, r.Every)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = r.Every
		p, err := r.Pass(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("retention pass failed; trying again later", "err", err)
		case p.Notifications > 0 || p.Attempts > 0:
			log.Info("retention: old deliveries deleted", "notifications", p.Notifications, "attempts", p.Attempts, "retention", r.Keep)
		}
	}
}

// Pass deletes everything older than Keep now.
func (r Retention) Pass(ctx context.Context) (ledger.Pruned, error) {
	return r.Ledger.PruneOlderThan(ctx, r.Ledger.Now().Add(-r.Keep), max(r.Batch, 1), r.Pause)
}
