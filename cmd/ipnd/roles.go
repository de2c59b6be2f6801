package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/ipnd/ipnd/api"
	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin"
	"github.com/ipnd/ipnd/chains/chainsync"
	"github.com/ipnd/ipnd/chains/monero"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
	"github.com/ipnd/ipnd/metrics"
)

// chainProblems runs the chain adapters' own configuration checks (is the
// extended key public and of the configured network?).
func chainProblems(cfg config.Config) config.Problems {
	if cfg.Bitcoin.Enabled {
		return bitcoin.CheckConfig(cfg.Bitcoin)
	}
	return nil
}

// daemon holds the parts one `ipnd serve` process runs.
type daemon struct {
	cfg      config.Config
	ledger   *db.Ledger
	hooks    chainsync.Hooks // the chain watchers' write hooks
	log      *slog.Logger
	metrics  *metrics.Registry
	progress *progress
	notifier *sdNotifier
	worker   *ipn.Worker
	chains   map[chains.Chain]api.Chain
	roles    []role
	// standby holds the chains whose sync lock another process has.
	standby sync.Map
}

// buildRoles makes the parts of the daemon this process runs. Chain
// adapters are built whenever a chain is enabled (the API allocates and
// validates addresses with them); their watchers run only in the sync role,
// one process per chain at a time.
func buildRoles(ctx context.Context, cfg config.Config, ledger *db.Ledger, roles map[string]bool, log *slog.Logger) (*daemon, error) {
	d := &daemon{
		cfg: cfg, ledger: ledger, log: log, metrics: metrics.New(), progress: newProgress(),
		notifier: newSDNotifier(log.With("subsystem", "ipnd")), chains: map[chains.Chain]api.Chain{},
	}
	d.hooks.Observer = d.metrics
	if roles["ipn"] {
		o := ipn.OptionsFromConfig(cfg.IPN, version, log)
		o.Observer = d.metrics
		d.worker = ipn.NewWorker(ledger, o)
		d.hooks.Notify = d.worker.Notify // the in-process hand-off
		d.addRole("ipn", d.worker.Run)
	}
	if cfg.Bitcoin.Enabled {
		if err := d.buildBitcoin(roles["sync"]); err != nil {
			return nil, err
		}
	}
	if cfg.Monero.Enabled {
		if err := d.buildMonero(ctx, roles["sync"], roles["api"]); err != nil {
			return nil, err
		}
	}
	if roles["sync"] && !cfg.Bitcoin.Enabled && !cfg.Monero.Enabled {
		log.Warn("the sync role has nothing to do: neither [bitcoin] nor [monero] is enabled", "subsystem", "ipnd")
	}
	if roles["api"] {
		var notify func()
		if d.worker != nil {
			notify = d.worker.Notify
		}
		srv, err := api.New(api.Options{
			Ledger: ledger, Chains: d.chains, Server: cfg.Server, IPN: cfg.IPN,
			CheckURL: ipn.CheckURL, NewSecret: ipn.NewSecret, Notify: notify,
			Logger: log, Metrics: d.metrics,
		})
		if err != nil {
			return nil, usageError{fmt.Errorf("api: %w", err)}
		}
		d.addRole("api", srv.ListenAndServe)
	}
	return d, nil
}

func (d *daemon) addRole(name string, run func(context.Context) error) {
	d.roles = append(d.roles, role{name: name, run: run})
}

// runLocked runs a chain watcher while this process holds the chain's sync
// lock; a second sync process waits here and takes over when the first dies.
func (d *daemon) runLocked(c chains.Chain, run func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		log := d.log.With("subsystem", string(c))
		held, release, err := d.ledger.LockChain(ctx, c, d.cfg.Database.DSN.Reveal(), func() {
			d.standby.Store(c, true)
			log.Info("another process is syncing this chain; standing by to take over")
		})
		d.standby.Delete(c)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		defer release()
		log.Info("sync lock held; following the chain")
		err = run(held)
		if ctx.Err() == nil && held.Err() != nil {
			return errors.New("sync lock lost; exiting so that a supervisor restarts ipnd")
		}
		return err
	}
}

func (d *daemon) buildBitcoin(syncRole bool) error {
	c := d.cfg.Bitcoin
	deriver, err := bitcoin.NewDeriver(c.Network, c.XPub, c.AddressType)
	if err != nil {
		return usageError{fmt.Errorf("bitcoin.xpub: %w", err)}
	}
	var watcher *bitcoin.Watcher
	var derived bitcoin.DerivedWatcher
	if syncRole {
		wc := bitcoin.WatcherConfigFrom(c, d.log)
		wc.Hooks = d.hooks
		watcher = bitcoin.NewWatcher(bitcoin.NewClient(bitcoin.RPCConfigFrom(c)), d.ledger, deriver, wc)
		derived = watcher
		d.addRole("sync-btc", d.runLocked(chains.BTC, watcher.Run))
	}
	d.chains[chains.BTC] = &btcAdapter{
		Allocator: bitcoin.NewAllocator(deriver, d.ledger, derived),
		deriver:   deriver, ledger: d.ledger, watcher: watcher,
	}
	return nil
}

// btcAdapter is the Bitcoin side of the API.
type btcAdapter struct {
	*bitcoin.Allocator
	deriver *bitcoin.Deriver
	ledger  *db.Ledger
	watcher *bitcoin.Watcher // nil when another process syncs
}

func (a *btcAdapter) Validate(addr string) error {
	if _, err := a.deriver.ValidateAddress(addr); err != nil {
		return fmt.Errorf("%w: %v", api.ErrRejected, err)
	}
	return nil
}

func (a *btcAdapter) Watch(ctx context.Context, addr string) (chains.Address, error) {
	canonical, err := bitcoin.CanonicalAddress(a.deriver.Params(), addr)
	if err != nil {
		return chains.Address{}, fmt.Errorf("%w: %v", api.ErrRejected, err)
	}
	addr = canonical // the scanner credits payments to the canonical form
	rec, err := a.ledger.EnsureAddress(ctx, chains.Address{Chain: chains.BTC, Address: addr})
	if err != nil {
		return chains.Address{}, err
	}
	if a.watcher != nil {
		if err := a.watcher.WatchAddress(addr); err != nil {
			return chains.Address{}, err
		}
	}
	return rec, nil
}

func (a *btcAdapter) Status() chains.Status {
	if a.watcher != nil {
		return a.watcher.Status()
	}
	return syncedElsewhere(chains.BTC)
}

// syncedElsewhere is the status of a chain another process follows.
func syncedElsewhere(c chains.Chain) chains.Status {
	return chains.Status{Chain: c, State: chains.Synced, Error: "followed by another ipnd process (sync role)"}
}

func (d *daemon) buildMonero(ctx context.Context, syncRole, apiRole bool) error {
	c := d.cfg.Monero
	log := d.log // the monero package adds its own subsystem attribute
	wallet, daemonRPC, err := monero.Clients(c)
	if err != nil {
		return usageError{fmt.Errorf("monero: %w", err)}
	}
	adapter := &xmrAdapter{ledger: d.ledger}
	if apiRole || syncRole {
		// The start checks: a view-only wallet (unless allowed otherwise) and
		// the wallet-replacement guard, before anything is served.
		adapter.alloc, err = monero.NewAllocator(ctx, wallet, d.ledger, monero.AllocatorConfigFrom(c, log))
		if err != nil {
			return fmt.Errorf("monero: %w", err)
		}
	}
	if syncRole {
		wc := monero.WatcherConfigFrom(c, log)
		wc.Hooks = d.hooks
		adapter.watcher = monero.NewWatcher(wallet, daemonRPC, d.ledger, wc)
		d.addRole("sync-xmr", d.runLocked(chains.XMR, adapter.watcher.Run))
	}
	d.chains[chains.XMR] = adapter
	return nil
}

// xmrAdapter is the Monero side of the API.
type xmrAdapter struct {
	alloc   *monero.Allocator // nil in a process with neither the api nor the sync role
	watcher *monero.Watcher   // nil when another process syncs
	ledger  *db.Ledger
}

func (a *xmrAdapter) Allocate(ctx context.Context, label string) (chains.Address, error) {
	return a.alloc.Allocate(ctx, label)
}

func (a *xmrAdapter) AddressAt(context.Context, uint32, string) (chains.Address, error) {
	return chains.Address{}, fmt.Errorf("%w: Monero subaddresses are allocated by the wallet; omit index", api.ErrRejected)
}

// Validate checks the form of a Monero address: base58, 95 characters
// (standard or subaddress) or 106 (integrated).
func (a *xmrAdapter) Validate(addr string) error {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	if len(addr) != 95 && len(addr) != 106 {
		return fmt.Errorf("%w: a Monero address has 95 or 106 characters", api.ErrRejected)
	}
	for _, r := range addr {
		if !strings.ContainsRune(alphabet, r) {
			return fmt.Errorf("%w: %q is not a base58 character", api.ErrRejected, r)
		}
	}
	return nil
}

func (a *xmrAdapter) Watch(ctx context.Context, addr string) (chains.Address, error) {
	if err := a.Validate(addr); err != nil {
		return chains.Address{}, err
	}
	if rec, err := a.ledger.AddressByString(ctx, chains.XMR, addr); err == nil {
		return rec, nil
	}
	idx, err := a.alloc.Validate(ctx, addr)
	if err != nil {
		if errors.Is(err, monero.ErrUnreachable) {
			return chains.Address{}, err
		}
		return chains.Address{}, fmt.Errorf("%w: %v", api.ErrRejected, err)
	}
	major, minor := idx.Major, idx.Minor
	return a.ledger.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: addr, AccountIndex: &major, SubaddressIndex: &minor})
}

func (a *xmrAdapter) Status() chains.Status {
	if a.watcher != nil {
		return a.watcher.Status()
	}
	return syncedElsewhere(chains.XMR)
}

func runDerive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("derive", stderr)
	chain := fs.String("chain", "btc", "chain (only btc derives addresses)")
	index := fs.Int64("index", -1, "derivation index m/0/N (0..2147483647)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c, err := chains.ParseChain(*chain); err != nil || c != chains.BTC {
		return usagef("derive: -chain: only btc derives addresses from the configured key")
	}
	if *index < 0 || *index > ledger.MaxDerivationIndex {
		return usagef("derive: -index: must be between 0 and %d", ledger.MaxDerivationIndex)
	}
	cfg, err := loadConfig(args, *path)
	if err != nil {
		return err
	}
	if cfg.Bitcoin.XPub == "" {
		return usagef("bitcoin.xpub: required to derive addresses")
	}
	d, err := bitcoin.NewDeriver(cfg.Bitcoin.Network, cfg.Bitcoin.XPub, cfg.Bitcoin.AddressType)
	if err != nil {
		return usageError{fmt.Errorf("bitcoin.xpub: %w", err)}
	}
	addr, err := d.Address(uint32(*index))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, addr)
	return nil
}
