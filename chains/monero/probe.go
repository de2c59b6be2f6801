package monero

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
)

// ConnectChecks are the [monero] checks of `ipnd check-config -connect`:
// wallet-rpc answers with the configured login and has a wallet open, the
// wallet is view-only (unless monero.require_view_only is false), and
// monerod answers. The view-only check is not made when wallet-rpc fails.
func ConnectChecks(c config.Monero) []chains.Check {
	wallet, daemon, err := Clients(c)
	if err != nil {
		fail := func(context.Context) (string, error) {
			return "", chains.Fail(err, "correct monero.wallet_rpc_url and monero.daemon_rpc_url (http://host:port)")
		}
		return []chains.Check{{Name: "monero", Run: fail}}
	}
	opened := false
	return []chains.Check{
		{Name: "monero wallet-rpc " + hostOf(c.WalletRPCURL), Run: func(ctx context.Context) (string, error) {
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
		{Name: "monero daemon " + hostOf(c.DaemonRPCURL), Run: func(ctx context.Context) (string, error) {
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
}

// hostOf is a base URL's host:port (the URL itself may carry no
// credentials: config refuses them).
func hostOf(base string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
	host, _, _ := strings.Cut(s, "/")
	return host
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
		return chains.Fail(err, "monerod asks for a login (--rpc-login): give ipnd its credentials or run monerod's RPC without a login on loopback")
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
		return chains.Fail(err, "set monero.daemon_rpc_url to monerod's base URL, http://host:port")
	}
	return chains.Fail(err, "check monero.daemon_rpc_url and monerod's log")
}
