package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// Heartbeats: the process holding a chain's sync lock writes the watcher's
// status to the ledger (db.Ledger.Beat), at once when it changes and at
// least every heartbeatEvery; every process's /readyz and chain metrics
// read it (api.HeartbeatMaxAge).
const (
	heartbeatEvery = 5 * time.Second
	heartbeatCheck = 500 * time.Millisecond
)

func heartbeatOwner() string {
	h, _ := os.Hostname()
	if len(h) > 40 {
		h = h[:40]
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// heartbeat writes chain c's heartbeat until ctx ends.
func (d *daemon) heartbeat(ctx context.Context, c chains.Chain, status func() chains.Status, log *slog.Logger) {
	owner := heartbeatOwner()
	var last chains.Status
	var wrote time.Time
	failing := false
	t := time.NewTicker(heartbeatCheck)
	defer t.Stop()
	name := "heartbeat-" + string(c) // the watchdog's view of this writer
	defer d.progress.forget(name)
	for {
		d.progress.mark(name, time.Now())
		st := status()
		st.Chain = c
		changed := st.State != last.State || st.Height != last.Height || st.NodeHeight != last.NodeHeight ||
			st.Feed != last.Feed || st.Error != last.Error
		if changed || time.Since(wrote) >= heartbeatEvery {
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := d.ledger.Beat(wctx, owner, st)
			cancel()
			switch {
			case err != nil && ctx.Err() == nil:
				if !failing {
					log.Warn("heartbeat not written; readiness of every process will drop after 30 s", "err", err)
				}
				failing = true
			case err == nil:
				if failing {
					log.Info("heartbeat written again")
				}
				failing, last, wrote = false, st, time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
