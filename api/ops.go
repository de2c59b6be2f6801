package api

// The metrics listener ([server] metrics_listen), and the chains' state as
// readiness and the metrics read it from the sync role's heartbeats.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/metrics"
)

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
