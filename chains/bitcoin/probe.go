package bitcoin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
)

// probeTimeout bounds one RPC of the connect checks.
const probeTimeout = 10 * time.Second

// ConnectChecks are the [bitcoin] checks of `ipnd check-config -connect`:
// the node answers over RPC with the configured credentials, and it follows
// the configured network (its block 0 is that network's genesis block).
// They run in order; the second is not made when the first fails.
func ConnectChecks(c config.Bitcoin) []chains.Check {
	rc := RPCConfigFrom(c)
	rc.Timeout = probeTimeout
	client := NewClient(rc)
	answered := false
	return []chains.Check{
		{Name: "bitcoin node " + c.RPCHost, Run: func(ctx context.Context) (string, error) {
			ci, err := client.ChainInfo(ctx)
			if err != nil {
				return "", nodeFailure(c, err)
			}
			answered = true
			found := fmt.Sprintf("answers (chain %q, %d blocks", ci.Chain, ci.Blocks)
			if ci.InitialBlockDownload || ci.Headers > ci.Blocks {
				found += fmt.Sprintf(", still syncing: %d headers", ci.Headers)
			}
			if ci.Pruned {
				found += ", pruned"
			}
			return found + ")", nil
		}},
		{Name: "bitcoin network", Run: func(ctx context.Context) (string, error) {
			if !answered {
				return "", chains.NotChecked("the node did not answer")
			}
			return checkGenesis(ctx, client, c)
		}},
	}
}

// checkGenesis compares the node's block 0 with bitcoin.network's genesis
// block, as the watcher does at start and after every reconnect
// (Watcher.checkGenesis; both name what they found with networkOfGenesis).
func checkGenesis(ctx context.Context, client *Client, c config.Bitcoin) (string, error) {
	want, err := NetParams(c.Network)
	if err != nil {
		return "", chains.Fail(err, "set bitcoin.network to mainnet, testnet, signet or regtest")
	}
	got, err := client.BlockHash(ctx, 0)
	if err != nil {
		return "", nodeFailure(c, err)
	}
	if got == want.GenesisHash.String() {
		return fmt.Sprintf("%s (genesis block %s)", c.Network, got), nil
	}
	if name := networkOfGenesis(got); name != "" {
		return "", chains.Fail(fmt.Errorf("the node at bitcoin.rpc_host follows %s, not bitcoin.network = %q (its block 0 is %s)", name, c.Network, got),
			"point bitcoin.rpc_host at a %s node, or set bitcoin.network = %q (with an extended key of that network)", c.Network, name)
	}
	return "", chains.Fail(fmt.Errorf("the node at bitcoin.rpc_host is on no Bitcoin network: its block 0 is %s, not %s's genesis block (another coin, such as Litecoin?)", got, c.Network),
		"point bitcoin.rpc_host at a Bitcoin %s node (bitcoind or btcd)", c.Network)
}

// networkOfGenesis names the Bitcoin network whose genesis block is hash,
// in bitcoin.network's spelling; "" for none.
func networkOfGenesis(hash string) string {
	for _, n := range []struct {
		name   string
		params *chaincfg.Params
	}{
		{"mainnet", &chaincfg.MainNetParams}, {"testnet", &chaincfg.TestNet3Params},
		{"signet", &chaincfg.SigNetParams}, {"regtest", &chaincfg.RegressionNetParams},
	} {
		if n.params.GenesisHash.String() == hash {
			return n.name
		}
	}
	return ""
}

// nodeFailure turns an RPC error into a check failure with its fix. The
// client's errors carry no password.
func nodeFailure(c config.Bitcoin, err error) error {
	var opErr *net.OpError
	switch {
	case errors.Is(err, ErrAuth) && c.RPCCookie != "":
		return chains.Fail(err, "point bitcoin.rpc_cookie at the running node's cookie file (DATADIR/.cookie, "+
			"DATADIR/NETWORK/.cookie off mainnet; bitcoind writes a new one at every start), or set "+
			"bitcoin.rpc_user and bitcoin.rpc_password instead")
	case errors.Is(err, ErrAuth):
		return chains.Fail(err, "set bitcoin.rpc_user and bitcoin.rpc_password to a user the node accepts "+
			"(bitcoind: rpcauth= or rpcuser=/rpcpassword=; btcd: rpcuser=/rpcpass=), or bitcoin.rpc_cookie to bitcoind's cookie file")
	case strings.Contains(err.Error(), "read RPC cookie") || strings.Contains(err.Error(), "RPC cookie "):
		return chains.Fail(err, "set bitcoin.rpc_cookie to the node's cookie file, readable by the user ipnd runs as "+
			"(bitcoind -rpccookieperms=group and that group for ipnd), or use bitcoin.rpc_user and bitcoin.rpc_password")
	case IsWarmingUp(err):
		return chains.Fail(err, "the node is starting (loading its block index): run the check again once it has started")
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return chains.Fail(fmt.Errorf("no answer from %s within %s", c.RPCHost, probeTimeout),
			"check that bitcoin.rpc_host is the node's RPC host:port and that no firewall drops the connection")
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return chains.Fail(fmt.Errorf("nothing answers at bitcoin.rpc_host %s: %v", c.RPCHost, opErr.Err),
			"start bitcoind (server=1) or btcd, or set bitcoin.rpc_host to its RPC host:port (bitcoind's rpcport: "+
				"8332 mainnet, 18332 testnet, 38332 signet, 18443 regtest; btcd's rpclisten)")
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "undecodable answer") || strings.Contains(err.Error(), "malformed HTTP"):
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return chains.Fail(fmt.Errorf("%s does not answer JSON-RPC over HTTP: %w", c.RPCHost, err),
			"set bitcoin.rpc_host to the node's JSON-RPC port over plain HTTP (bitcoind's rpcport; btcd's "+
				"rpclisten with notls=1 on loopback), not its P2P, ZMQ or a TLS port")
	}
	return chains.Fail(err, "check bitcoin.rpc_host and the node's log")
}
