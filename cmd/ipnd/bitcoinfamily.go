package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin"
	"github.com/ipnd/ipnd/config"
)

// familySection is a Bitcoin-family chain and its configuration section:
// one adapter (chains/bitcoin) serves each with its own parameters.
type familySection struct {
	fam *bitcoin.Family
	cfg config.Bitcoin
}

// bitcoinSections lists the Bitcoin-family chains with their sections.
func bitcoinSections(cfg config.Config) []familySection {
	return []familySection{{&bitcoin.BitcoinFamily, cfg.Bitcoin}, {&bitcoin.LitecoinFamily, cfg.Litecoin}}
}

// keySetting names the setting that holds a section's key: its descriptor
// when one is set, else its xpub.
func (f familySection) keySetting() string {
	if f.cfg.Descriptor != "" {
		return f.fam.Section + ".descriptor"
	}
	return f.fam.Section + ".xpub"
}

// buildBitcoinFamily makes a Bitcoin-family chain's adapter, its watcher in
// the sync role and, in the api role, the check of the key's used
// addresses that runs before the first address is handed out.
func (d *daemon) buildBitcoinFamily(ctx context.Context, f familySection, syncRole, apiRole bool) error {
	c, fam := f.cfg, f.fam
	deriver, err := fam.DeriverFrom(c)
	if err != nil {
		return usageError{fmt.Errorf("%s: %w", f.keySetting(), err)}
	}
	var watcher *bitcoin.Watcher
	if syncRole {
		wc := fam.WatcherConfig(c, d.log)
		wc.Hooks = d.hooks
		watcher = bitcoin.NewWatcher(bitcoin.NewClient(fam.RPCConfig(c)), d.ledger, deriver, wc)
		if err := d.metrics.Register(watcher.Collector()); err != nil {
			return fmt.Errorf("%s metrics: %w", fam.Section, err)
		}
		d.addRole("sync-"+string(fam.Chain), d.runLocked(fam.Chain, watcher.Run, watcher.Status))
		d.loops[fam.Chain] = watcher
	}
	adapter := bitcoin.NewAPIAdapter(deriver, d.ledger, watcher)
	if apiRole {
		adapter.PrepareIndexes(ctx, d.ledger, fam.NewScanClient(c), bitcoin.FirstIndexConfig{
			FirstIndex: c.FirstIndex, GapLimit: c.GapLimit, Logger: d.log,
		})
	}
	d.chains[fam.Chain] = adapter
	return nil
}

// bitcoinDerivers are the derive command's rows of the Bitcoin-family
// chains: the key's settings only.
func bitcoinDerivers() map[chains.Chain]keyDeriver {
	out := map[chains.Chain]keyDeriver{}
	for _, fam := range bitcoin.Families {
		s := fam.Section
		out[fam.Chain] = keyDeriver{
			settings: []string{s + ".xpub", s + ".descriptor", s + ".network", s + ".address_type"},
			build: func(cfg config.Config) (addressDeriver, error) {
				var c config.Bitcoin
				for _, f := range bitcoinSections(cfg) {
					if f.fam == fam {
						c = f.cfg
					}
				}
				if strings.TrimSpace(c.XPub) == "" && strings.TrimSpace(c.Descriptor) == "" {
					return nil, config.Problems{{Key: s + ".xpub", Msg: "is empty: set it to the wallet's account-level " +
						"extended public key (" + keyList(fam) + "), or " + s + ".descriptor to the wallet's output descriptor, " +
						"in the file or as " + config.EnvName(s, "xpub") + " / " + config.EnvName(s, "descriptor")}}
				}
				key := config.Bitcoin{Enabled: true, Network: c.Network, XPub: c.XPub, Descriptor: c.Descriptor, AddressType: c.AddressType}
				if p := fam.CheckKey(key); len(p) > 0 {
					return nil, p
				}
				return fam.DeriverFrom(key)
			},
		}
	}
	return out
}

func keyList(fam *bitcoin.Family) string {
	if fam.Chain == chains.BTC {
		return "xpub, ypub, zpub; tpub, upub, vpub on test networks"
	}
	return "xpub, ypub, zpub, Ltub, Mtub; tpub, upub, vpub, ttub on test networks"
}
