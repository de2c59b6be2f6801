package api

// GET /healthz, /readyz, /metrics and /openapi.json.

import (
	"context"
	"net/http"
	"sync"
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

// ReadyCacheFor is how long one readiness computation answers /readyz: a
// scrape storm (every load balancer probing every process) reads the
// ledger at most once per ReadyCacheFor, and requests that arrive while it
// is computed wait for it instead of reading too.
const ReadyCacheFor = time.Second

// readyCache is the last readiness answer.
type readyCache struct {
	mu     sync.Mutex // held while computing: one computation at a time
	at     time.Time
	status int
	body   map[string]any
}

// expire makes the next /readyz compute afresh (tests).
func (c *readyCache) expire() {
	c.mu.Lock()
	c.body = nil
	c.mu.Unlock()
}

// readyz: the ledger answers and every enabled chain is followed by a sync
// role (its heartbeat in the ledger is at most HeartbeatMaxAge old) that
// reports it synced. Any process answers the same, whatever its roles.
// Error texts are logged, not shown (the endpoint needs no key). The
// answer is computed at most once per ReadyCacheFor.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	c := &s.ready
	c.mu.Lock()
	if c.body == nil || time.Since(c.at) >= ReadyCacheFor {
		// Not the request's context: a client that hangs up must not
		// make the shared answer "unreachable".
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 3*time.Second)
		c.status, c.body = s.readiness(ctx)
		cancel()
		c.at = time.Now()
	}
	status, body := c.status, c.body
	c.mu.Unlock()
	s.writeJSON(w, status, body)
	return nil
}

// readiness computes /readyz's status and body.
func (s *Server) readiness(ctx context.Context) (int, map[string]any) {
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
	return status, map[string]any{"ready": ready, "ledger": ledger, "chains": cs}
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
