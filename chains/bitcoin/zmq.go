package bitcoin

import (
	"bytes"
	"context"
	"slices"

	"github.com/ipnd/ipnd/chains/zmqsub"
)

// zmqSource is bitcoind's ZMQ push: rawtx (every transaction entering the
// mempool or a block, whole: nothing to fetch) with hashblock, or sequence
// (blocks connected and disconnected, transactions added to and removed
// from the mempool, by id). Package zmqsub keeps the connections, and
// tells of every (re)connect and of lost messages (Core's per-topic
// sequence numbers): each makes the watcher look at the whole mempool and
// the chain again.
type zmqSource struct {
	c         PushConfig
	endpoints []string
	topics    []string
}

func (w *Watcher) zmqSource(c PushConfig) pushSource {
	s := &zmqSource{c: c}
	add := func(ep, topic string) {
		if ep == "" {
			return
		}
		if !slices.Contains(s.endpoints, ep) {
			s.endpoints = append(s.endpoints, ep)
		}
		s.topics = append(s.topics, topic)
	}
	add(c.ZMQRawTx, zmqsub.TopicRawTx)
	if c.ZMQSequence != "" {
		add(c.ZMQSequence, zmqsub.TopicSequence)
	} else {
		add(c.ZMQHashBlock, zmqsub.TopicHashBlock)
	}
	return s
}

func (s *zmqSource) name() string { return "zmq" }

func (s *zmqSource) run(ctx context.Context, w *Watcher) error {
	sub, err := zmqsub.New(zmqsub.Options{Name: string(w.fam.Chain), Endpoints: s.endpoints, Topics: s.topics,
		Format: zmqsub.FormatBitcoinCore, Logger: w.cfg.Logger})
	if err != nil {
		return err
	}
	rawtx := slices.Contains(s.topics, zmqsub.TopicRawTx)
	up := map[string]bool{}
	err = sub.Run(ctx, func(ev zmqsub.Event) {
		switch ev.Kind {
		case zmqsub.KindResync:
			up[ev.Endpoint] = true
			if ev.Reason != zmqsub.ReasonConnected && ev.Reason != zmqsub.ReasonReconnected {
				w.log.Warn("push: ZMQ messages may be lost; looking at the whole mempool and chain again", "endpoint", ev.Endpoint,
					"reason", ev.Reason, "missed", ev.Missed)
			}
			w.pushUp(s.name(), len(up) == len(s.endpoints) && !slices.Contains(mapValues(up), false))
			w.pushResync()
		case zmqsub.KindDisconnected:
			up[ev.Endpoint] = false
			w.pushUp(s.name(), false)
		case zmqsub.KindMessage:
			s.message(w, ev, rawtx)
		}
	})
	w.pushUp(s.name(), false)
	return err
}

func (s *zmqSource) message(w *Watcher, ev zmqsub.Event, rawtx bool) {
	switch ev.Topic {
	case zmqsub.TopicRawTx:
		w.pushRawTx(bytes.Clone(ev.Body))
	case zmqsub.TopicHashBlock:
		w.pushBlock()
	case zmqsub.TopicSequence:
		se, err := zmqsub.ParseSequence(ev.Body)
		if err != nil {
			w.log.Warn("push: malformed ZMQ sequence message; looking at everything again", "err", err)
			w.pushResync()
			return
		}
		switch se.Label {
		case zmqsub.BlockConnected, zmqsub.BlockDisconnected:
			w.pushBlock()
		case zmqsub.TxAdded:
			if rawtx {
				w.Alive() // rawtx brings the transaction itself
				return
			}
			w.pushTxIDs(se.Hash)
		case zmqsub.TxRemoved:
			w.pushRemoved(se.Hash)
		}
	}
}

func mapValues(m map[string]bool) []bool {
	out := make([]bool, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
