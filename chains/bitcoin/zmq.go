package bitcoin

import (
	"context"
	"fmt"
)

// zmqSource is bitcoind's ZMQ push. (Waiting for package zmqsub.)
type zmqSource struct{ c PushConfig }

func (w *Watcher) zmqSource(c PushConfig) pushSource { return &zmqSource{c: c} }

func (s *zmqSource) name() string { return "zmq" }

func (s *zmqSource) run(context.Context, *Watcher) error {
	return fmt.Errorf("%w: ZMQ is not built in yet", errNoPush)
}
