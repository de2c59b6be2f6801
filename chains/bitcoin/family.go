package bitcoin

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains"
)

// Family is one Bitcoin-family chain as the shared adapter sees it: its
// chain id and configuration section, its networks' parameters (genesis
// block, address encodings, extended-key versions, block interval, in
// btcd's chaincfg.Params form), the extended-key versions its wallets
// export, and its wire decoder. Bitcoin and Litecoin are two Families;
// another Bitcoin-derived coin needs a Family and, where its formats
// differ from Bitcoin's, a Decoder, and nothing else. Decimals, the URI
// scheme and the chain's name for people come from its row of the chains
// Spec table.
type Family struct {
	Chain chains.Chain
	// Section names the configuration section ("bitcoin") in messages
	// that point the operator at a setting.
	Section string
	// Name is the chain's name for people ("Bitcoin").
	Name    string
	Decoder Decoder
	// Nodes names the node software that serves the chain, for messages:
	// "bitcoind (0.21 or later) or btcd".
	Nodes string
	// Networks are the networks of the chain's `network` setting; the first
	// is the default.
	Networks []*Network
	// MaxMoney is the most atomic units of the chain that can ever exist
	// (Bitcoin: 21,000,000 coins, Litecoin: 84,000,000): no valid output
	// carries more, so a larger (or negative) value is data to refuse.
	MaxMoney int64
	// keys are the extended public and private key versions the chain's
	// wallets export (BIP32, SLIP-132).
	keys map[uint32]keyVersion
	// nodeHints are the node-specific parts of the connect checks' fixes;
	// nil: those of the Core node Nodes names first.
	nodeHints *nodeHints
}

// Network is one network of a Family.
type Network struct {
	// Name is the network as the `network` setting spells it ("mainnet").
	Name string
	// Aliases are other accepted spellings of the setting.
	Aliases []string
	// NodeChains are the names the node reports in getblockchaininfo's
	// "chain" for this network ("main").
	NodeChains []string
	// Params holds the genesis block, the address encodings (base58
	// version bytes, bech32 HRP), the standard extended-key versions and
	// the block interval.
	Params *chaincfg.Params
	// Test: a test network, whose wallets export the tpub family of keys.
	Test bool
	// RPCPort is the node's default RPC port, for messages.
	RPCPort int
	// LegacyScriptHashAddrIDs are older P2SH version bytes that still
	// decode (Litecoin's 3…/2… before M…/Q…); addresses are given back in
	// the Params form.
	LegacyScriptHashAddrIDs []byte
	// ConfidentialHRP is the bech32 prefix of addresses ipnd cannot watch
	// (Litecoin's MWEB addresses), refused with a reason; "" for none.
	ConfidentialHRP string
}

// Network returns the network the setting names (or one of its aliases).
func (f *Family) Network(name string) (*Network, error) {
	if name == "" {
		return f.Networks[0], nil
	}
	for _, n := range f.Networks {
		if name == n.Name || slices.Contains(n.Aliases, name) {
			return n, nil
		}
	}
	return nil, fmt.Errorf("unknown %s network %q (want %s)", strings.ToLower(f.Name), name, f.NetworkChoices())
}

// networkNames lists the networks as the setting spells them.
func (f *Family) networkNames() []string {
	out := make([]string, len(f.Networks))
	for i, n := range f.Networks {
		out[i] = n.Name
	}
	return out
}

// NetworkChoices lists the networks for messages: "mainnet, testnet or
// regtest".
func (f *Family) NetworkChoices() string {
	names := f.networkNames()
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Families are the Bitcoin-family chains ipnd follows.
var Families = []*Family{&BitcoinFamily, &LitecoinFamily}

// familyOfSection returns the family whose configuration section is
// section; Bitcoin's for none.
func familyOfSection(section string) *Family {
	for _, f := range Families {
		if f.Section == section {
			return f
		}
	}
	return &BitcoinFamily
}

// networkOf finds the family and network whose parameters are params.
func networkOf(params *chaincfg.Params) (*Family, *Network) {
	for _, f := range Families {
		for _, n := range f.Networks {
			if n.Params == params {
				return f, n
			}
		}
	}
	return nil, nil
}

// BitcoinFamily is Bitcoin: btcd's chain parameters and wire decoder.
var BitcoinFamily = Family{
	Chain: chains.BTC, Section: "bitcoin", Name: "Bitcoin", Decoder: BitcoinDecoder{},
	Nodes: "bitcoind or btcd", MaxMoney: btcutil.MaxSatoshi,
	Networks: []*Network{
		{Name: "mainnet", Aliases: []string{"main"}, NodeChains: []string{"main", "mainnet"}, Params: &chaincfg.MainNetParams, RPCPort: 8332},
		{Name: "testnet", Aliases: []string{"testnet3"}, NodeChains: []string{"test", "testnet", "testnet3"}, Params: &chaincfg.TestNet3Params, Test: true, RPCPort: 18332},
		{Name: "signet", NodeChains: []string{"signet"}, Params: &chaincfg.SigNetParams, Test: true, RPCPort: 38332},
		{Name: "regtest", NodeChains: []string{"regtest"}, Params: &chaincfg.RegressionNetParams, Test: true, RPCPort: 18443},
	},
	keys: bitcoinKeys,
	nodeHints: &nodeHints{
		daemon:      "bitcoind",
		users:       "bitcoind: rpcauth= or rpcuser=/rpcpassword=; btcd: rpcuser=/rpcpass=",
		cookieGroup: "bitcoind -rpccookieperms=group and that group for ipnd",
		start:       "start bitcoind (server=1) or btcd",
		ports:       "bitcoind's rpcport: 8332 mainnet, 18332 testnet, 38332 signet, 18443 regtest; btcd's rpclisten",
		rpcPort:     "bitcoind's rpcport; btcd's rpclisten with notls=1 on loopback",
		push:        "bitcoind: set zmqpubrawtx and zmqpubhashblock; btcd: enable its RPC websocket (the default)",
	},
}

// fastPoll is the poll interval while no push notification source works.
const fastPoll = time.Second

// heartbeat is the longest wait between rounds while push works: a round
// costs one call when nothing changed, and it notices a node that hangs.
const heartbeat = 10 * time.Second
