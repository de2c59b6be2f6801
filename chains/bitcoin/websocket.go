package bitcoin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/rpcclient"
)

// wsSource is btcd's websocket push: notifyblocks (block connected and
// disconnected) and notifynewtransactions without details (txids of
// transactions accepted to the mempool), on the RPC port's /ws endpoint.
// It reconnects by itself with a capped back-off.
type wsSource struct {
	conf    func() (*rpcclient.ConnConfig, error)
	timeout time.Duration
}

// wsNode is a node that can give its websocket's connection settings
// (*Client: the same host and credentials).
type wsNode interface {
	wsConfig() (*rpcclient.ConnConfig, error)
	rpcTimeout() time.Duration
}

// websocketSource makes the websocket push for the watcher's node.
func (w *Watcher) websocketSource() pushSource {
	c, ok := w.node.(wsNode)
	if !ok {
		w.log.Warn("push: websocket needs the JSON-RPC client's connection settings; polling only")
		return nil
	}
	return &wsSource{conf: c.wsConfig, timeout: c.rpcTimeout()}
}

func (c *Client) rpcTimeout() time.Duration { return c.cfg.Timeout }

// wsConfig is the websocket connection of the client's node.
func (c *Client) wsConfig() (*rpcclient.ConnConfig, error) {
	user, pass, err := c.credentials()
	if err != nil {
		return nil, err
	}
	return &rpcclient.ConnConfig{Host: c.cfg.Host, Endpoint: "ws", User: user, Pass: pass, DisableTLS: true,
		DisableAutoReconnect: true}, nil
}

func (s *wsSource) name() string { return "websocket" }

func (s *wsSource) run(ctx context.Context, w *Watcher) error {
	wait := 100 * time.Millisecond
	for {
		err := s.session(ctx, w)
		w.pushUp(s.name(), false)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errNoPush) {
			return err
		}
		if err != nil {
			w.log.Debug("push: websocket session ended", "err", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
		if err == nil {
			wait = 100 * time.Millisecond // it worked until the node went away
		}
	}
}

// session connects, registers for notifications and reports them until the
// connection ends; nil when it ended after working.
func (s *wsSource) session(ctx context.Context, w *Watcher) error {
	cfg, err := s.conf()
	if err != nil {
		return err
	}
	handlers := &rpcclient.NotificationHandlers{
		OnBlockConnected:    func(*chainhash.Hash, int32, time.Time) { w.pushBlock() },
		OnBlockDisconnected: func(*chainhash.Hash, int32, time.Time) { w.pushBlock() },
		OnTxAccepted:        func(h *chainhash.Hash, _ btcutil.Amount) { w.pushTxIDs(*h) },
	}
	client, err := dialWebsocket(ctx, cfg, handlers)
	if err != nil {
		return err
	}
	defer client.Shutdown()
	if err := s.register(ctx, client); err != nil {
		return err
	}
	w.pushUp(s.name(), true)
	w.pushResync()
	done := make(chan struct{})
	go func() { client.WaitForShutdown(); close(done) }()
	select {
	case <-ctx.Done():
	case <-done:
	}
	return nil
}

// dialWebsocket connects (rpcclient dials without a timeout: a hung node
// would hold it for ever, so it runs aside and is abandoned when ctx ends).
func dialWebsocket(ctx context.Context, cfg *rpcclient.ConnConfig, h *rpcclient.NotificationHandlers) (*rpcclient.Client, error) {
	type result struct {
		c   *rpcclient.Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := rpcclient.New(cfg, h)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && noWebsocket(r.err) {
			return nil, fmt.Errorf("%w: %w", errNoPush, r.err)
		}
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Shutdown()
			}
		}()
		return nil, ctx.Err()
	}
}

// noWebsocket reports a node that answered the websocket handshake over
// HTTP without upgrading: bitcoind (404) or a proxy.
func noWebsocket(err error) bool {
	if errors.Is(err, rpcclient.ErrInvalidEndpoint) {
		return true
	}
	s := err.Error()
	return strings.HasPrefix(s, "404") || strings.HasPrefix(s, "405") || strings.HasPrefix(s, "400")
}

// register asks for block and transaction notifications within the RPC
// timeout.
func (s *wsSource) register(ctx context.Context, c *rpcclient.Client) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for _, f := range []func() rpcclient.FutureNotifyBlocksResult{c.NotifyBlocksAsync, func() rpcclient.FutureNotifyBlocksResult {
		return rpcclient.FutureNotifyBlocksResult(c.NotifyNewTransactionsAsync(false))
	}} {
		fut := f()
		errc := make(chan error, 1)
		go func() { errc <- fut.Receive() }()
		select {
		case err := <-errc:
			if err != nil {
				return fmt.Errorf("websocket notification request: %w", err)
			}
		case <-ctx.Done():
			return fmt.Errorf("websocket notification request: no answer within %s", s.timeout)
		}
	}
	return nil
}
