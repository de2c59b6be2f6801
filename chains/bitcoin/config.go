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
	if c.ReorgDepth <= 0 {
		c.ReorgDepth = 200
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
	return BitcoinFamily.WatcherConfig(c, log)
}

// WatcherConfig takes the watcher settings of the family's section.
func (f *Family) WatcherConfig(c config.Bitcoin, log *slog.Logger) WatcherConfig {
	return WatcherConfig{
		Network: c.Network, GapLimit: c.GapLimit, StartHeight: c.StartHeight, PollInterval: c.PollInterval.D(), Logger: log,
		Push: PushConfig{Mode: PushMode(c.Push), ZMQRawTx: c.ZMQRawTx, ZMQHashBlock: c.ZMQHashBlock, ZMQSequence: c.ZMQSequence},
	}
}

// RPCConfigFrom takes the connection settings of the [bitcoin] section.
func RPCConfigFrom(c config.Bitcoin) RPCConfig { return BitcoinFamily.RPCConfig(c) }

// RPCConfig takes the connection settings of the family's section.
func (f *Family) RPCConfig(c config.Bitcoin) RPCConfig {
	return RPCConfig{Host: c.RPCHost, User: c.RPCUser, Password: c.RPCPassword, CookiePath: c.RPCCookie, Timeout: c.RPCTimeout.D(), Section: f.Section}
}

// CheckConfig validates the [bitcoin] section (Family.CheckConfig).
func CheckConfig(c config.Bitcoin) config.Problems { return BitcoinFamily.CheckConfig(c) }

// CheckConfig validates the family's section beyond what config.Validate
// does: the network name, the key or descriptor (public, of that network,
// supported type, descriptor checksum), the address type and the push
// settings. It never echoes the key.
func (f *Family) CheckConfig(c config.Bitcoin) config.Problems {
	var p config.Problems
	if !c.Enabled {
		return nil
	}
	s := f.Section
	if _, err := f.Network(c.Network); err != nil {
		p.Add(s+".network", "%v", err)
		return p
	}
	checkPush(&p, s, PushConfig{Mode: PushMode(c.Push), ZMQRawTx: c.ZMQRawTx, ZMQHashBlock: c.ZMQHashBlock, ZMQSequence: c.ZMQSequence})
	p = append(p, f.CheckKey(c)...)
	return p
}

// CheckKey validates the settings a Deriver is made of (network, xpub or
// descriptor, address_type), naming the setting at fault.
func (f *Family) CheckKey(c config.Bitcoin) config.Problems {
	var p config.Problems
	s := f.Section
	switch {
	case c.XPub != "" && c.Descriptor != "":
		p.Add(s+".descriptor", "set either %s.xpub or %s.descriptor, not both", s, s)
		return p
	case c.XPub == "" && c.Descriptor == "":
		p.Add(s+".xpub", "required when %s.enabled is true: set the wallet's account-level extended public key (%s; %s on test networks), "+
			"or %s.descriptor to its output descriptor", s, f.keyNames(false), f.keyNames(true), s)
		return p
	case c.Descriptor != "" && c.AddressType != "":
		p.Add(s+".address_type", "must be empty with %s.descriptor: the descriptor says the address type", s)
		return p
	}
	if _, err := f.DeriverFrom(c); err != nil {
		key := s + ".xpub"
		switch {
		case c.Descriptor != "":
			key = s + ".descriptor"
		case strings.Contains(err.Error(), "address type"):
			key = s + ".address_type"
		}
		p.Add(key, "%v", err)
	}
	return p
}

// DeriverFrom makes the Deriver of a section's key: its xpub (with
// address_type) or its descriptor.
func (f *Family) DeriverFrom(c config.Bitcoin) (*Deriver, error) {
	if c.Descriptor != "" {
		return f.NewDescriptorDeriver(c.Network, c.Descriptor)
	}
	return f.NewDeriver(c.Network, c.XPub, c.AddressType)
}
