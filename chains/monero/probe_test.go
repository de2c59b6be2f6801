package monero_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/config"
)

// probeLines runs checks in order as check-config -connect does: "ok NAME:
// found", "FAIL NAME: error; fix: ..." or "skip NAME: why".
func probeLines(t *testing.T, checks []chains.Check) []string {
	t.Helper()
	var out []string
	for _, c := range checks {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		found, err := c.Run(ctx)
		cancel()
		var cf *chains.CheckFailure
		switch {
		case err == nil:
			out = append(out, "ok "+c.Name+": "+found)
		case errors.Is(err, chains.ErrNotChecked):
			out = append(out, "skip "+c.Name+": "+err.Error())
		case errors.As(err, &cf):
			out = append(out, "FAIL "+c.Name+": "+err.Error())
		default:
			t.Errorf("%s: a failure without a fix: %v", c.Name, err)
		}
	}
	return out
}

func hostPort(url string) string { return strings.TrimPrefix(url, "http://") }

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// matchLines compares got with want, where each want line is a regular
// expression matched against the whole line.
func matchLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = regexp.MustCompile("^" + want[i] + "$").MatchString(got[i])
	}
	if !ok {
		t.Errorf("got\n%s\nwant (regular expressions)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The connect checks against real wallet-rpcs and monerod: the view-only
// wallet behind a login passes; a spending wallet, a wrong login, no wallet
// open and nothing listening each fail with the fix.
func TestConnectChecks(t *testing.T) {
	f := need(t)
	user, pass, _ := strings.Cut(viewLogin, ":")
	good := config.Monero{Enabled: true, WalletRPCURL: f.view.URL, WalletRPCUser: user, WalletRPCPassword: config.Secret(pass),
		DaemonRPCURL: f.net.DaemonURL, RequireViewOnly: true}
	wallet, daemon := regexp.QuoteMeta(hostPort(f.view.URL)), regexp.QuoteMeta(hostPort(f.net.DaemonURL))

	t.Run("view-only wallet", func(t *testing.T) {
		matchLines(t, probeLines(t, monero.ConnectChecks(good)),
			`ok monero wallet-rpc `+wallet+`: answers \(RPC version 1\.\d+, wallet open, scanned to height \d+\)`,
			`ok monero wallet view-only: the wallet holds no spend key`,
			`ok monero daemon `+daemon+`: answers \(fakechain, height \d+\)`)
	})
	t.Run("spending wallet", func(t *testing.T) {
		c := good
		c.WalletRPCURL, c.WalletRPCUser, c.WalletRPCPassword = f.merchant.URL, "", ""
		lines := probeLines(t, monero.ConnectChecks(c))
		matchLines(t, lines,
			`ok monero wallet-rpc .*`,
			regexp.QuoteMeta(`FAIL monero wallet view-only: the wallet can spend: the open wallet holds its spend key; `+
				`fix: open a view-only wallet in wallet-rpc (restored from the address and the private view key only) and `+
				`keep the spend key off this server, or set monero.require_view_only = false to accept the risk`),
			`ok monero daemon .*`)
		c.RequireViewOnly = false
		matchLines(t, probeLines(t, monero.ConnectChecks(c))[1:2],
			regexp.QuoteMeta(`ok monero wallet view-only: the wallet CAN SPEND (accepted: monero.require_view_only = false)`))
	})
	t.Run("wrong password", func(t *testing.T) {
		c := good
		c.WalletRPCPassword = "hunter2-wrong"
		lines := probeLines(t, monero.ConnectChecks(c))
		matchLines(t, lines,
			regexp.QuoteMeta(`FAIL monero wallet-rpc `+hostPort(f.view.URL)+`: monero rpc refused the credentials: wallet-rpc at `+
				hostPort(f.view.URL)+` refused user "ipnd" (HTTP 401 for get_version): wrong monero.wallet_rpc_user or `+
				`monero.wallet_rpc_password; fix: set monero.wallet_rpc_user and `+
				`monero.wallet_rpc_password to wallet-rpc's --rpc-login user:password (or start wallet-rpc without a login and leave both empty)`),
			regexp.QuoteMeta(`skip monero wallet view-only: not checked: wallet-rpc did not answer with an open wallet`),
			`ok monero daemon .*`)
		if strings.Contains(strings.Join(lines, "\n"), "hunter2") {
			t.Errorf("a line shows the password: %q", lines)
		}
	})
	t.Run("no wallet open", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		empty, err := f.net.StartWalletRPC(ctx, "probe-empty", monerotest.WalletOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer empty.Stop()
		c := good
		c.WalletRPCURL, c.WalletRPCUser, c.WalletRPCPassword = empty.URL, "", ""
		matchLines(t, probeLines(t, monero.ConnectChecks(c)),
			regexp.QuoteMeta(`FAIL monero wallet-rpc `+hostPort(empty.URL)+`: wallet-rpc answers but has no wallet open; `+
				`fix: start monero-wallet-rpc with --wallet-file pointing at the view-only wallet (and its --password-file)`),
			`skip monero wallet view-only: .*`,
			`ok monero daemon .*`)
	})
	t.Run("zmq publisher", func(t *testing.T) {
		c := good
		c.DaemonZMQPub = f.net.Main.ZMQPub
		lines := probeLines(t, monero.ConnectChecks(c))
		matchLines(t, lines[3:], regexp.QuoteMeta(`ok monero zmq `+c.DaemonZMQPub+
			`: publishes (subscribed to json-minimal-txpool_add and json-minimal-chain_main)`))
		c.DaemonZMQPub = "tcp://" + freeAddr(t)
		lines = probeLines(t, monero.ConnectChecks(c))
		matchLines(t, lines[3:], regexp.QuoteMeta(`FAIL monero zmq `+c.DaemonZMQPub+`: no ZMQ publisher at `+c.DaemonZMQPub+`: `)+
			`.*connection refused; `+regexp.QuoteMeta(`fix: start monerod with --zmq-pub `+c.DaemonZMQPub+` (and without --no-zmq), `+
			`or set monero.daemon_zmq_pub to the address it publishes on (empty: no push, the wallet is polled every poll_interval)`))
		c.DaemonZMQPub = "tcp://" + hostPort(f.net.DaemonURL) // an HTTP server, not a publisher
		lines = probeLines(t, monero.ConnectChecks(c))
		matchLines(t, lines[3:], regexp.QuoteMeta(`FAIL monero zmq `+c.DaemonZMQPub+`: no ZMQ publisher at `)+`.*`)
	})
	t.Run("nothing listening", func(t *testing.T) {
		c := good
		w, d := freeAddr(t), freeAddr(t)
		c.WalletRPCURL, c.DaemonRPCURL = "http://"+w, "http://"+d
		matchLines(t, probeLines(t, monero.ConnectChecks(c)),
			regexp.QuoteMeta(`FAIL monero wallet-rpc `+w+`: monero rpc unreachable: wallet-rpc at `+w+`, get_version: dial tcp `+w+
				`: connect: connection refused; fix: start monero-wallet-rpc with the view-only wallet (--wallet-file, `+
				`--rpc-bind-port, --rpc-login), or set monero.wallet_rpc_url to the address it listens on`),
			`skip monero wallet view-only: .*`,
			regexp.QuoteMeta(`FAIL monero daemon `+d+`: monero rpc unreachable: monerod at `+d+`, get_info: dial tcp `+d+
				`: connect: connection refused; fix: start monerod, or set monero.daemon_rpc_url to its RPC address `+
				`(--rpc-bind-port: 18081 mainnet, 28081 testnet, 38081 stagenet)`))
	})
}
