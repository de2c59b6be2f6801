package monero

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ipnd/ipnd/chains/zmqsub"
)

// Push subscribes to monerod's ZMQ publisher (its --zmq-pub, config
// monero.daemon_zmq_pub) and turns what it hears into "look now" for the
// watcher: the wallet stays the source of truth, an event only makes the
// watcher poll it at once (Watcher.PushEvent). While the publisher is
// connected the watcher, between events, only asks monerod whether its tip
// or pool changed; while it is not, the watcher polls the wallet every poll
// interval (Watcher.SetPush).
//
// monerod 0.18 publishes txpool_add only for transactions received from
// peers, never for one submitted to it over RPC (a customer's wallet using
// this very node): the watcher's change check catches those.
type Push struct {
	sub *zmqsub.Subscriber
	w   *Watcher
}

// Push event names (Metrics.ChainPushEvent): the topics, and EventResync
// after each (re)connection.
const EventResync = "resync"

// NewPush prepares a subscription to endpoint (tcp://host:port) for w and
// marks w's push as configured but down until it connects. log is the
// process's logger (the subscriber adds its own subsystem, xmr.zmq).
func NewPush(endpoint string, w *Watcher, log *slog.Logger) (*Push, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sub, err := zmqsub.New(zmqsub.Options{
		Name: "xmr", Endpoints: []string{endpoint}, Format: zmqsub.FormatMonero, Logger: log,
		Topics: []string{zmqsub.TopicMoneroTxPoolAdd, zmqsub.TopicMoneroChainMain},
	})
	if err != nil {
		return nil, fmt.Errorf("monero.daemon_zmq_pub: %w", err)
	}
	w.SetPush(true, false)
	return &Push{sub: sub, w: w}, nil
}

// Run listens until ctx ends.
func (p *Push) Run(ctx context.Context) error {
	defer p.w.SetPush(true, false)
	return p.sub.Run(ctx, func(ev zmqsub.Event) {
		switch ev.Kind {
		case zmqsub.KindMessage:
			p.w.PushEvent(ev.Topic)
		case zmqsub.KindResync:
			// (Re)connected, or a message that could not be read: whatever
			// was published meanwhile is lost, so look now.
			p.w.SetPush(true, true)
			p.w.PushEvent(EventResync)
		case zmqsub.KindDisconnected:
			p.w.SetPush(true, false)
		}
	})
}

// Health is the subscriber's connection state (tests, diagnostics).
func (p *Push) Health() zmqsub.Health { return p.sub.Health() }
