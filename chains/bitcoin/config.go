package bitcoin

import (
	"log/slog"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/config"
)

// WatcherConfig tunes a Watcher.
type WatcherConfig struct {
	// Family is the chain followed (default BitcoinFamily).
	Family Family
	// Network is the configured network's name ("regtest"), for messages.
	Network string
	// GapLimit unallocated indexes beyond the highest allocated (or paid)
	// one are watched too.
	GapLimit int
	// StartHeight is the first block scanned at the very first start; 0
	// means the node's tip at that moment (only later blocks are scanned).
	// Raised above the ledger's tip later, the ledger skips to it.
	StartHeight int64
	// PollInterval is the safety poll while push works (the whole mempool
	// is looked at this often); without push the node is polled every
	// second, or every PollInterval when that is shorter (default 30 s).
	PollInterval time.Duration
	// Push says where push notifications come from.
	Push PushConfig
	// MaxBackoff caps the wait after node trouble (default 30 s).
	MaxBackoff time.Duration
	// RefreshInterval is how often every ledger address is reloaded into the
	// watch set even when no new ledger address was seen (default 5 min);
	// a new one (recorded by another process) triggers a reload at once.
	RefreshInterval time.Duration
	// ProgressInterval between catch-up and mempool import progress lines
	// (default 5 s).
	ProgressInterval time.Duration
	// ReorgDepth is how many recent blocks are compared with the node when
	// looking for the common ancestor (default 200).
	ReorgDepth int
	// RestartGrace: a transaction that left the mempool of a node started
	// less than this long ago is kept unconfirmed (the node may just not
	// know it any more) unless a conflicting spend is seen (default: the
	// network's block interval, 10 minutes for Bitcoin).
	RestartGrace time.Duration
	// MempoolBatch is how many transactions one batched request fetches
	// (default 500); ImportBudget the time per round spent importing a
	// large mempool (default 250 ms).
	MempoolBatch int
	ImportBudget time.Duration
	// Hooks hear of every ledger write (metrics, the IPN worker).
	Hooks  chainsync.Hooks
	Logger *slog.Logger
}

// DefaultPollInterval is the safety poll while push works.
const DefaultPollInterval = 30 * time.Second

func (c WatcherConfig) withDefaults(d *Deriver) WatcherConfig {
	if c.Family.Chain == "" {
		c.Family = BitcoinFamily
	}
	if c.Network == "" {
		c.Network = d.net.Name
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Push.Mode == "" {
		c.Push.Mode = PushAuto
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 5 * time.Minute
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 5 * time.Second
	}
	if c.RestartGrace <= 0 {
		c.RestartGrace = d.net.TargetTimePerBlock
	}
	if c.MempoolBatch <= 0 {
		c.MempoolBatch = 500
	}
	if c.ImportBudget <= 0 {
		c.ImportBudget = 250 * time.Millisecond
	}
	if c.GapLimit < 0 {
		c.GapLimit = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// WatcherConfigFrom takes the watcher settings of the [bitcoin] section.
func WatcherConfigFrom(c config.Bitcoin, log *slog.Logger) WatcherConfig {
	return WatcherConfig{
		Network: c.Network, GapLimit: c.GapLimit, StartHeight: c.StartHeight, PollInterval: c.PollInterval.D(), Logger: log,
		Push: PushConfig{Mode: PushMode(c.Push), ZMQRawTx: c.ZMQRawTx, ZMQHashBlock: c.ZMQHashBlock, ZMQSequence: c.ZMQSequence},
	}
}

// RPCConfigFrom takes the connection settings of the [bitcoin] section.
func RPCConfigFrom(c config.Bitcoin) RPCConfig {
	return RPCConfig{Host: c.RPCHost, User: c.RPCUser, Password: c.RPCPassword, CookiePath: c.RPCCookie, Timeout: c.RPCTimeout.D()}
}

// CheckConfig validates the [bitcoin] section beyond what config.Validate
// does: the network name, the key (public, of that network, supported
// type), the address type and the push settings. It never echoes the key.
func CheckConfig(c config.Bitcoin) config.Problems {
	var p config.Problems
	if !c.Enabled {
		return nil
	}
	if _, err := NetParams(c.Network); err != nil {
		p.Add("bitcoin.network", "%v", err)
		return p
	}
	checkPush(&p, "bitcoin", PushConfig{Mode: PushMode(c.Push), ZMQRawTx: c.ZMQRawTx, ZMQHashBlock: c.ZMQHashBlock, ZMQSequence: c.ZMQSequence})
	if c.XPub == "" {
		p.Add("bitcoin.xpub", "required when bitcoin.enabled is true")
		return p
	}
	if _, err := NewDeriver(c.Network, c.XPub, c.AddressType); err != nil {
		key := "bitcoin.xpub"
		if strings.Contains(err.Error(), "address type") {
			key = "bitcoin.address_type"
		}
		p.Add(key, "%v", err)
	}
	return p
}
