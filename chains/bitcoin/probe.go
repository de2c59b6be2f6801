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

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
)

// probeTimeout bounds one RPC of the connect checks.
const probeTimeout = 10 * time.Second

// ConnectChecks are Bitcoin's connect checks (Family.ConnectChecks).
func ConnectChecks(c config.Bitcoin) []chains.Check { return BitcoinFamily.ConnectChecks(c) }

// ConnectChecks are the checks of `ipnd check-config -connect` for the
// family's section: the node answers over RPC with the configured
// credentials, and it follows the configured network (its block 0 is that
// network's genesis block). They run in order; the second is not made when
// the first fails.
func (f *Family) ConnectChecks(c config.Bitcoin) []chains.Check {
	rc := f.RPCConfig(c)
	rc.Timeout = probeTimeout
	client := NewClient(rc)
	answered := false
	return []chains.Check{
		{Name: f.Section + " node " + c.RPCHost, Run: func(ctx context.Context) (string, error) {
			defer client.CloseIdle() // a stopping node would wait for an idle connection
			ci, err := client.ChainInfo(ctx)
			if err != nil {
				return "", f.nodeFailure(c, err)
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
		{Name: f.Section + " network", Run: func(ctx context.Context) (string, error) {
			if !answered {
				return "", chains.NotChecked("the node did not answer")
			}
			defer client.CloseIdle()
			return f.checkGenesis(ctx, client, c)
		}},
	}
}

// checkGenesis is the check-config form of genesisMismatch.
func (f *Family) checkGenesis(ctx context.Context, client *Client, c config.Bitcoin) (string, error) {
	want, err := f.Network(c.Network)
	if err != nil {
		return "", chains.Fail(err, "set %s.network to %s", f.Section, f.NetworkChoices())
	}
	got, err := client.BlockHash(ctx, 0)
	if err != nil {
		return "", f.nodeFailure(c, err)
	}
	if err := f.genesisMismatch(want, c.Network, got); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (genesis block %s)", c.Network, got), nil
}

// genesisMismatch is the one check that a node follows the configured
// network: got is the node's block 0, want the network the setting
// (spelled setting) names. It is nil when they agree, else a
// *chains.CheckFailure naming the setting, the genesis block seen, what
// it belongs to, and the fix. The watcher makes it at start and after
// every failed round; `ipnd check-config -connect` makes it too.
func (f *Family) genesisMismatch(want *Network, setting, got string) error {
	s := f.Section
	if got == want.Params.GenesisHash.String() {
		return nil
	}
	fam, n := networkOfGenesis(got)
	switch {
	case fam == f:
		return chains.Fail(fmt.Errorf("the node at %s.rpc_host follows %s, not %s.network = %q (its block 0 is %s)", s, n.Name, s, setting, got),
			"point %s.rpc_host at a %s node, or set %s.network = %q (with an extended key of that network)", s, setting, s, n.Name)
	case fam != nil:
		return chains.Fail(fmt.Errorf("the node at %s.rpc_host follows %s %s, not %s: its block 0 is %s, not the genesis block of %s.network = %q (%s)",
			s, fam.Name, n.Name, f.Name, got, s, setting, want.Params.GenesisHash),
			"point %s.rpc_host at a %s %s node (%s)%s", s, f.Name, setting, f.Nodes, fam.sectionHint())
	}
	return chains.Fail(fmt.Errorf("the node at %s.rpc_host is on no %s network: its block 0 is %s, not the genesis block of %s.network = %q (%s; %s)",
		s, f.Name, got, s, setting, want.Params.GenesisHash, f.otherCoin()),
		"point %s.rpc_host at a %s %s node (%s)", s, f.Name, setting, f.Nodes)
}

// sectionHint tells where a node of this family belongs.
func (f *Family) sectionHint() string {
	return fmt.Sprintf("; a %s node belongs in [%s]", f.Name, f.Section)
}

// otherCoin guesses, for a message, what else a node may be: the other
// families' chains.
func (f *Family) otherCoin() string {
	var others []string
	for _, o := range Families {
		if o != f {
			others = append(others, o.Name)
		}
	}
	if len(others) == 0 {
		return "another coin?"
	}
	return "another coin, such as " + strings.Join(others, " or ") + "?"
}

// networkOfGenesis finds the family and network whose genesis block is
// hash; nil for none.
func networkOfGenesis(hash string) (*Family, *Network) {
	for _, f := range Families {
		for _, n := range f.Networks {
			if n.Params.GenesisHash.String() == hash {
				return f, n
			}
		}
	}
	return nil, nil
}

// nodeFailure turns an RPC error into a check failure with its fix. The
// client's errors carry no password.
func (f *Family) nodeFailure(c config.Bitcoin, err error) error {
	s, h := f.Section, f.hints()
	var opErr *net.OpError
	switch {
	case errors.Is(err, ErrAuth) && c.RPCCookie != "":
		return chains.Fail(err, "point %s.rpc_cookie at the running node's cookie file (DATADIR/.cookie, "+
			"DATADIR/NETWORK/.cookie off mainnet; %s writes a new one at every start), or set "+
			"%s.rpc_user and %s.rpc_password instead", s, h.daemon, s, s)
	case errors.Is(err, ErrAuth):
		return chains.Fail(err, "set %s.rpc_user and %s.rpc_password to a user the node accepts "+
			"(%s), or %s.rpc_cookie to %s's cookie file", s, s, h.users, s, h.daemon)
	case strings.Contains(err.Error(), "read RPC cookie") || strings.Contains(err.Error(), "RPC cookie "):
		return chains.Fail(err, "set %s.rpc_cookie to the node's cookie file, readable by the user ipnd runs as "+
			"(%s), or use %s.rpc_user and %s.rpc_password", s, h.cookieGroup, s, s)
	case isWarmingUp(err):
		return chains.Fail(err, "the node is starting (loading its block index): run the check again once it has started")
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return chains.Fail(fmt.Errorf("no answer from %s within %s", c.RPCHost, probeTimeout),
			"check that %s.rpc_host is the node's RPC host:port and that no firewall drops the connection", s)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return chains.Fail(fmt.Errorf("nothing answers at %s.rpc_host %s: %v", s, c.RPCHost, opErr.Err),
			"%s, or set %s.rpc_host to its RPC host:port (%s)", h.start, s, h.ports)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "undecodable answer") || strings.Contains(err.Error(), "malformed HTTP"):
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return chains.Fail(fmt.Errorf("%s does not answer JSON-RPC over HTTP: %w", c.RPCHost, err),
			"set %s.rpc_host to the node's JSON-RPC port over plain HTTP (%s), not its P2P, ZMQ or a TLS port", s, h.rpcPort)
	}
	return chains.Fail(err, "check %s.rpc_host and the node's log", s)
}

// nodeHints are the node-specific parts of the connect checks' fixes.
type nodeHints struct {
	daemon      string // the Core daemon's name: "bitcoind"
	users       string // how the node takes RPC users
	cookieGroup string // how to make the cookie readable
	start       string // how to start a node
	ports       string // default RPC ports
	rpcPort     string // which port is the JSON-RPC one
	push        string // how to turn push notifications on
}

// hints are the family's own (Family.nodeHints), else those of a Core
// node named by the family's Nodes, with its networks' RPC ports.
func (f *Family) hints() nodeHints {
	if f.nodeHints != nil {
		return *f.nodeHints
	}
	daemon := strings.Fields(f.Nodes)[0]
	ports := make([]string, len(f.Networks))
	for i, n := range f.Networks {
		ports[i] = fmt.Sprintf("%d %s", n.RPCPort, n.Name)
	}
	return nodeHints{
		daemon:      daemon,
		users:       daemon + ": rpcauth= or rpcuser=/rpcpassword=",
		cookieGroup: "a group that may read " + daemon + "'s data directory, with ipnd in it",
		start:       "start " + daemon + " (server=1)",
		ports:       daemon + "'s rpcport: " + strings.Join(ports, ", "),
		rpcPort:     daemon + "'s rpcport",
		push:        daemon + ": set zmqpubrawtx and zmqpubhashblock (a build with ZMQ: Debian's has none)",
	}
}
