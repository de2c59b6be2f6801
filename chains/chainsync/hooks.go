package chainsync

import "github.com/ipnd/ipnd/chains"

// Observer counts what the chain writes did (*metrics.Registry).
type Observer interface {
	// BlocksApplied counts blocks connected to the ledger.
	BlocksApplied(c chains.Chain, n int)
	// Reorg counts one reorganisation, which disconnected depth blocks.
	Reorg(c chains.Chain, depth int)
	// Change counts the deposits and notifications one write made.
	Change(c chains.Chain, ch chains.Change)
}

// Hooks are told about every successful chain write of this process. Both
// fields are optional.
type Hooks struct {
	// Observer counts the writes (metrics).
	Observer Observer
	// Notify wakes this process's IPN worker when a write made
	// notifications (ipn.Worker.Notify): the in-process hand-off; a worker
	// in another process finds them by polling the ledger.
	Notify func()
}

// wrote reports one chain write's outcome to the hooks and passes it on.
func (h Hooks) wrote(c chains.Chain, ch chains.Change, err error) (chains.Change, error) {
	if err != nil {
		return ch, err
	}
	if h.Observer != nil {
		h.Observer.Change(c, ch)
	}
	if ch.Notifications > 0 && h.Notify != nil {
		h.Notify()
	}
	return ch, nil
}

func (h Hooks) blocksApplied(c chains.Chain, n int) {
	if h.Observer != nil {
		h.Observer.BlocksApplied(c, n)
	}
}

func (h Hooks) reorg(c chains.Chain, depth int) {
	if h.Observer != nil {
		h.Observer.Reorg(c, depth)
	}
}
