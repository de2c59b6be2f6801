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
	// GapLimit unallocated indexes beyond the highest allocated (or paid)
	// one are watched too.
	GapLimit int
	// StartHeight is the first block scanned at the very first start; 0
	// means the node's tip at that moment (only later blocks are scanned).
	StartHeight int64
	// PollInterval between polls (default 1 s).
	PollInterval time.Duration
	// MaxBackoff caps the wait after node trouble (default 30 s).
	MaxBackoff time.Duration
	// RefreshInterval is how often every ledger address is reloaded into the
	// watch set even when no new ledger address was seen (default 5 min);
	// a new one (recorded by another process) triggers a reload at once.
	RefreshInterval time.Duration
	// ProgressInterval between catch-up progress lines (default 5 s).
	ProgressInterval time.Duration
	// ReorgDepth is how many recent blocks are compared with the node when
	// looking for the common ancestor (default 200).
	ReorgDepth int
	// Hooks hear of every ledger write (metrics, the IPN worker).
	Hooks  chainsync.Hooks
	Logger *slog.Logger
}

// WatcherConfigFrom takes the watcher settings of the [bitcoin] section.
func WatcherConfigFrom(c config.Bitcoin, log *slog.Logger) WatcherConfig {
	return WatcherConfig{GapLimit: c.GapLimit, StartHeight: c.StartHeight, PollInterval: c.PollInterval.D(), Logger: log}
}

// RPCConfigFrom takes the connection settings of the [bitcoin] section.
func RPCConfigFrom(c config.Bitcoin) RPCConfig {
	return RPCConfig{Host: c.RPCHost, User: c.RPCUser, Password: c.RPCPassword, CookiePath: c.RPCCookie}
}

// CheckConfig validates the [bitcoin] section beyond what config.Validate
// does: the network name, the key (public, of that network, supported
// type) and the address type. It never echoes the key.
func CheckConfig(c config.Bitcoin) config.Problems {
	var p config.Problems
	if !c.Enabled {
		return nil
	}
	if _, err := NetParams(c.Network); err != nil {
		p.Add("bitcoin.network", "%v", err)
		return p
	}
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
