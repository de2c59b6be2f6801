package bitcoin_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/config"
)

// runChecks runs checks in order as check-config -connect does and returns
// "ok NAME: found", "FAIL NAME: error" or "skip NAME: why" per check.
func runChecks(t *testing.T, checks []chains.Check) []string {
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

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func regtestTPub(t *testing.T) string {
	k, err := hdkeychain.NewMaster(make([]byte, 32), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	return pub.String()
}

// The connect checks against a real btcd: each failure says what is wrong
// and how to fix it, naming the setting.
func TestConnectChecks(t *testing.T) {
	node := btcdtest.Start(t, btcdtest.Options{})
	good := config.Bitcoin{Enabled: true, Network: "regtest", RPCHost: node.RPCHost, RPCUser: node.User,
		RPCPassword: config.Secret(node.Pass), XPub: regtestTPub(t)}
	regtestGenesis := chaincfg.RegressionNetParams.GenesisHash.String()
	height := node.Height()

	t.Run("ok", func(t *testing.T) {
		got := runChecks(t, bitcoin.ConnectChecks(good))
		want := []string{
			"ok bitcoin node " + node.RPCHost + `: answers (chain "regtest", ` + itoa(height) + " blocks)",
			"ok bitcoin network: regtest (genesis block " + regtestGenesis + ")",
		}
		equalLines(t, got, want)
	})
	t.Run("cookie", func(t *testing.T) {
		c := good
		c.RPCUser, c.RPCPassword, c.RPCCookie = "", "", node.CookieFile()
		got := runChecks(t, bitcoin.ConnectChecks(c))
		if len(got) != 2 || !strings.HasPrefix(got[0], "ok ") || !strings.HasPrefix(got[1], "ok ") {
			t.Errorf("with the cookie file: %q", got)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		c := good
		c.RPCPassword = "hunter2-wrong"
		got := runChecks(t, bitcoin.ConnectChecks(c))
		equalLines(t, got, []string{
			"FAIL bitcoin node " + node.RPCHost + ": getblockchaininfo: the node refused the RPC credentials (HTTP 401); " +
				"fix: set bitcoin.rpc_user and bitcoin.rpc_password to a user the node accepts (bitcoind: rpcauth= or " +
				"rpcuser=/rpcpassword=; btcd: rpcuser=/rpcpass=), or bitcoin.rpc_cookie to bitcoind's cookie file",
			"skip bitcoin network: not checked: the node did not answer",
		})
		for _, l := range got {
			if strings.Contains(l, "hunter2") {
				t.Errorf("a check line shows the password: %s", l)
			}
		}
	})
	t.Run("stale cookie", func(t *testing.T) {
		c := good
		c.RPCUser, c.RPCPassword = "", ""
		c.RPCCookie = filepath.Join(t.TempDir(), ".cookie")
		if err := os.WriteFile(c.RPCCookie, []byte("__cookie__:0123456789abcdef"), 0o600); err != nil {
			t.Fatal(err)
		}
		got := runChecks(t, bitcoin.ConnectChecks(c))
		if len(got) != 2 || !strings.HasPrefix(got[0], "FAIL bitcoin node "+node.RPCHost+": getblockchaininfo: the node refused the RPC credentials (HTTP 401); fix: point bitcoin.rpc_cookie at the running node's cookie file") {
			t.Errorf("a cookie the node does not accept: %q", got)
		}
		c.RPCCookie = filepath.Join(t.TempDir(), "absent", ".cookie")
		got = runChecks(t, bitcoin.ConnectChecks(c))
		if len(got) != 2 || !strings.HasPrefix(got[0], "FAIL bitcoin node "+node.RPCHost+": read RPC cookie: ") ||
			!strings.Contains(got[0], "; fix: set bitcoin.rpc_cookie to the node's cookie file, readable by the user ipnd runs as") {
			t.Errorf("a missing cookie file: %q", got)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		c := good
		c.RPCHost = closedPort(t)
		got := runChecks(t, bitcoin.ConnectChecks(c))
		equalLines(t, got, []string{
			"FAIL bitcoin node " + c.RPCHost + ": nothing answers at bitcoin.rpc_host " + c.RPCHost + ": connect: connection refused; " +
				"fix: start bitcoind (server=1) or btcd, or set bitcoin.rpc_host to its RPC host:port (bitcoind's rpcport: " +
				"8332 mainnet, 18332 testnet, 38332 signet, 18443 regtest; btcd's rpclisten)",
			"skip bitcoin network: not checked: the node did not answer",
		})
	})
	t.Run("wrong network", func(t *testing.T) {
		c := good
		c.Network = "testnet" // a tpub is valid there too: only the node tells
		got := runChecks(t, bitcoin.ConnectChecks(c))
		equalLines(t, got, []string{
			got[0],
			`FAIL bitcoin network: the node at bitcoin.rpc_host follows regtest, not bitcoin.network = "testnet" (its block 0 is ` +
				regtestGenesis + `); fix: point bitcoin.rpc_host at a testnet node, or set bitcoin.network = "regtest" ` +
				"(with an extended key of that network)",
		})
		if !strings.HasPrefix(got[0], "ok bitcoin node ") {
			t.Errorf("the node answers: %s", got[0])
		}
	})
	t.Run("not a JSON-RPC port", func(t *testing.T) {
		c := good
		c.RPCHost = node.P2P
		got := runChecks(t, bitcoin.ConnectChecks(c))
		if len(got) != 2 || !strings.HasPrefix(got[0], "FAIL bitcoin node "+node.P2P+": "+node.P2P+" does not answer JSON-RPC over HTTP: ") ||
			!strings.HasSuffix(got[0], "; fix: set bitcoin.rpc_host to the node's JSON-RPC port over plain HTTP (bitcoind's rpcport; "+
				"btcd's rpclisten with notls=1 on loopback), not its P2P, ZMQ or a TLS port") {
			t.Errorf("the P2P port as rpc_host: %q", got)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
