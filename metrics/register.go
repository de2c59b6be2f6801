package metrics

import "github.com/prometheus/client_golang/prometheus"

// Register adds a component's own collector (a chain watcher's push and
// mempool metrics) to the registry.
func (r *Registry) Register(c prometheus.Collector) error {
	if r == nil {
		return nil
	}
	return r.reg.Register(c)
}
