package metrics_test

import (
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/metrics"
)

// The IPN worker reports every attempt to the registry.
var _ ipn.Observer = (*metrics.Registry)(nil)
