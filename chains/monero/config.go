package monero

import (
	"log/slog"

	"github.com/ipnd/ipnd/config"
)

// Clients builds the wallet-rpc and monerod clients of a [monero] section.
// The passwords are revealed only to the digest computation.
func Clients(c config.Monero) (*WalletClient, *DaemonClient, error) {
	w, err := NewWalletClient(c.WalletRPCURL, ClientOptions{User: c.WalletRPCUser, Password: c.WalletRPCPassword.Reveal()})
	if err != nil {
		return nil, nil, err
	}
	d, err := NewDaemonClient(c.DaemonRPCURL, ClientOptions{User: c.DaemonRPCUser, Password: c.DaemonRPCPassword.Reveal()})
	if err != nil {
		return nil, nil, err
	}
	return w, d, nil
}

// StarterConfigFrom maps a [monero] section to StarterConfig.
func StarterConfigFrom(c config.Monero, log *slog.Logger) StarterConfig {
	return StarterConfig{AllocatorConfig: AllocatorConfigFrom(c, log)}
}

// AllocatorConfigFrom maps a [monero] section to AllocatorConfig.
func AllocatorConfigFrom(c config.Monero, log *slog.Logger) AllocatorConfig {
	return AllocatorConfig{Account: c.AccountIndex, WalletCheck: WalletCheck{RequireViewOnly: c.RequireViewOnly, Logger: log}}
}

// WatcherConfigFrom maps a [monero] section to WatcherConfig.
func WatcherConfigFrom(c config.Monero, log *slog.Logger) WatcherConfig {
	return WatcherConfig{Account: c.AccountIndex, PollInterval: c.PollInterval.D(), ReorgWindow: c.ReorgWindow,
		ZMQPub: c.DaemonZMQPub, Logger: log}
}
