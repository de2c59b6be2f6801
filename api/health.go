package api

// GET /healthz, /readyz, /metrics and /openapi.json.

import (
	"context"
	"net/http"
	"time"

	"github.com/ipnd/ipnd/chains"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

type chainReadyJSON struct {
	State      chains.SyncState `json:"state"`
	Ready      bool             `json:"ready"`
	Height     int64            `json:"height"`
	NodeHeight int64            `json:"node_height"`
	Behind     int64            `json:"behind"`
	Feed       string           `json:"feed,omitempty"`
	// HeartbeatAge is the age in seconds of the sync role's last
	// heartbeat; absent when there is none.
	HeartbeatAge *float64 `json:"heartbeat_age_seconds,omitempty"`
}

// readyz: the ledger answers and every enabled chain is followed by a sync
// role (its heartbeat in the ledger is at most HeartbeatMaxAge old) that
// reports it synced. Any process answers the same, whatever its roles.
// Error texts are logged, not shown (the endpoint needs no key).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	ready := true
	ledger := map[string]any{"ready": true}
	if err := s.opsL.Ping(ctx); err != nil {
		ready = false
		ledger["ready"] = false
		s.log.Warn("readiness: ledger unreachable", "err", err)
	}
	sts, err := s.chainStatuses(ctx)
	if err != nil && ledger["ready"] == true {
		s.log.Warn("readiness: heartbeats unreadable", "err", err)
	}
	cs := map[chains.Chain]chainReadyJSON{}
	for _, st := range sts {
		ok := st.State == chains.Synced
		if !ok {
			ready = false
			if st.Error != "" {
				s.log.Debug("readiness: chain not ready", "chain", st.Chain, "state", st.State, "err", st.Error)
			}
		}
		c := chainReadyJSON{State: st.State, Ready: ok, Height: st.Height, NodeHeight: st.NodeHeight, Behind: st.Behind, Feed: st.Feed}
		if st.Age >= 0 {
			age := st.Age.Round(time.Millisecond).Seconds()
			c.HeartbeatAge = &age
		}
		cs[st.Chain] = c
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	s.writeJSON(w, status, map[string]any{"ready": ready, "ledger": ledger, "chains": cs})
	return nil
}

func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request) error {
	s.metricsHandler.ServeHTTP(w, r)
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openAPISpec)
	return nil
}
