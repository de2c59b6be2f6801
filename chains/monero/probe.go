package monero

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/zmqsub"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/internal/weburl"
)

// ConnectChecks are the [monero] checks of `ipnd check-config -connect`:
// wallet-rpc answers with the configured login and has a wallet open, the
// wallet is view-only (unless monero.require_view_only is false), monerod
// answers, and its ZMQ publisher accepts a subscription (when
// daemon_zmq_pub is set). The view-only check is not made when wallet-rpc
// fails.
func ConnectChecks(c config.Monero) []chains.Check {
	wallet, daemon, err := Clients(c)
	if err != nil {
		fail := func(context.Context) (string, error) {
			return "", chains.Fail(err, "correct monero.wallet_rpc_url and monero.daemon_rpc_url (http://host:port)")
		}
		return []chains.Check{{Name: "monero", Run: fail}}
	}
	opened := false
	checks := []chains.Check{
		{Name: "monero wallet-rpc " + weburl.Host(c.WalletRPCURL), Run: func(ctx context.Context) (string, error) {
			v, err := wallet.GetVersion(ctx)
			if err != nil {
				return "", walletFailure(err)
			}
			h, err := wallet.GetHeight(ctx)
			if err != nil {
				return "", walletFailure(err)
			}
			opened = true
			return fmt.Sprintf("answers (RPC version %d.%d, wallet open, scanned to height %d)", v.Version>>16, v.Version&0xffff, h), nil
		}},
		{Name: "monero wallet view-only", Run: func(ctx context.Context) (string, error) {
			if !opened {
				return "", chains.NotChecked("wallet-rpc did not answer with an open wallet")
			}
			can, err := wallet.CanSpend(ctx)
			if err != nil {
				return "", walletFailure(err)
			}
			switch {
			case !can:
				return "the wallet holds no spend key", nil
			case c.RequireViewOnly:
				return "", chains.Fail(fmt.Errorf("%w: the open wallet holds its spend key", ErrSpendingWallet),
					"open a view-only wallet in wallet-rpc (restored from the address and the private view key only) "+
						"and keep the spend key off this server, or set monero.require_view_only = false to accept the risk")
			default:
				return "the wallet CAN SPEND (accepted: monero.require_view_only = false)", nil
			}
		}},
		{Name: "monero daemon " + weburl.Host(c.DaemonRPCURL), Run: func(ctx context.Context) (string, error) {
			info, err := daemon.GetInfo(ctx)
			if err != nil {
				return "", daemonFailure(err)
			}
			found := fmt.Sprintf("answers (%s, height %d", info.Nettype, info.Height)
			if !info.Synchronized && info.TargetHeight > info.Height {
				found += fmt.Sprintf(", syncing to %d", info.TargetHeight)
			}
			return found + ")", nil
		}},
	}
	if c.DaemonZMQPub != "" {
		checks = append(checks, chains.Check{Name: "monero zmq " + c.DaemonZMQPub, Run: func(ctx context.Context) (string, error) {
			return probeZMQ(ctx, c.DaemonZMQPub)
		}})
	}
	return checks
}

// zmqProbeTime bounds the publisher check: a ZMTP handshake on loopback
// takes milliseconds.
const zmqProbeTime = 5 * time.Second

// probeZMQ connects to monerod's publisher and subscribes, then hangs up.
func probeZMQ(ctx context.Context, endpoint string) (string, error) {
	const fix = "start monerod with --zmq-pub %s (and without --no-zmq), or set monero.daemon_zmq_pub " +
		"to the address it publishes on (empty: no push, the wallet is polled every poll_interval)"
	sub, err := zmqsub.New(zmqsub.Options{Name: "xmr", Endpoints: []string{endpoint}, Format: zmqsub.FormatMonero,
		Topics: []string{zmqsub.TopicMoneroTxPoolAdd, zmqsub.TopicMoneroChainMain}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "", chains.Fail(err, fix, endpoint)
	}
	ctx, cancel := context.WithTimeout(ctx, zmqProbeTime)
	defer cancel()
	connected := false
	_ = sub.Run(ctx, func(ev zmqsub.Event) {
		if ev.Kind == zmqsub.KindResync {
			connected = true
			cancel()
		}
	})
	if connected {
		return "publishes (subscribed to " + zmqsub.TopicMoneroTxPoolAdd + " and " + zmqsub.TopicMoneroChainMain + ")", nil
	}
	why := "no answer within " + zmqProbeTime.String()
	if h := sub.Health(); len(h.Endpoints) > 0 && h.Endpoints[0].LastError != "" {
		why = h.Endpoints[0].LastError
	}
	return "", chains.Fail(fmt.Errorf("no ZMQ publisher at %s: %s", endpoint, why), fix, endpoint)
}

// walletFailure gives a wallet-rpc error its fix.
func walletFailure(err error) error {
	var he *HTTPError
	switch {
	case errors.Is(err, ErrUnreachable):
		return chains.Fail(err, "start monero-wallet-rpc with the view-only wallet (--wallet-file, --rpc-bind-port, "+
			"--rpc-login), or set monero.wallet_rpc_url to the address it listens on")
	case errors.Is(err, ErrUnauthorized):
		return chains.Fail(err, "set monero.wallet_rpc_user and monero.wallet_rpc_password to wallet-rpc's "+
			"--rpc-login user:password (or start wallet-rpc without a login and leave both empty)")
	case IsRPCCode(err, CodeNotOpen):
		return chains.Fail(errors.New("wallet-rpc answers but has no wallet open"),
			"start monero-wallet-rpc with --wallet-file pointing at the view-only wallet (and its --password-file)")
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
		return chains.Fail(err, "set monero.wallet_rpc_url to wallet-rpc's base URL, http://host:port")
	}
	return chains.Fail(err, "check monero.wallet_rpc_url and wallet-rpc's log")
}

// daemonFailure gives a monerod error its fix.
func daemonFailure(err error) error {
	var he *HTTPError
	switch {
	case errors.Is(err, ErrUnreachable):
		return chains.Fail(err, "start monerod, or set monero.daemon_rpc_url to its RPC address "+
			"(--rpc-bind-port: 18081 mainnet, 28081 testnet, 38081 stagenet)")
	case errors.Is(err, ErrUnauthorized):
		return chains.Fail(err, "set monero.daemon_rpc_user and monero.daemon_rpc_password to monerod's --rpc-login "+
			"user:password (or run monerod's RPC without a login on loopback and leave both empty)")
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
		return chains.Fail(err, "set monero.daemon_rpc_url to monerod's base URL, http://host:port")
	}
	return chains.Fail(err, "check monero.daemon_rpc_url and monerod's log")
}
