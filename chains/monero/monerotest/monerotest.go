// Package monerotest runs a real Monero regtest network for tests: a main
// monerod (--regtest --fixed-difficulty 1), optionally publishing on ZMQ,
// behind an RPC login, and peered with a second "customer" daemon, plus any
// number of monero-wallet-rpc processes, each with one wallet, on free
// loopback ports in a temporary directory.
//
// monerod uses ~560 MB: start one Net per test package, in TestMain.
package monerotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ipnd/ipnd/chains/monero"
)

// Options choose what the Net runs besides one offline daemon.
type Options struct {
	// ZMQPub makes the main daemon publish on ZMQ (Daemon.ZMQPub).
	ZMQPub bool
	// Login "user:pass" protects the main daemon's RPC with --rpc-login
	// (HTTP digest). Net.Daemon and the wallet-rpcs on it use it.
	Login string
	// Customer starts a second daemon, Net.Customer, and peers the main
	// daemon with it, main → customer only (the customer runs --out-peers
	// 0; the other direction was seen to leave a payment unrelayed for over
	// 30 s). monerod publishes txpool_add only for transactions that came
	// from a peer: pay from a wallet-rpc on the customer's daemon
	// (WalletOptions.Daemon, WalletRPC.UseDaemon) to see them on the main
	// daemon's ZMQ, 3-6 s after the transfer.
	Customer bool
}

// Net is a running regtest network and the wallet-rpcs started on it.
type Net struct {
	Dir string
	// DaemonURL and Daemon are Main.URL and Main.Client.
	DaemonURL string
	Daemon    *monero.DaemonClient
	// Main is the daemon wallets use by default, the merchant's.
	Main *Daemon
	// Customer is the second daemon (Options.Customer), or nil.
	Customer *Daemon

	walletRPCBin string

	mu      sync.Mutex
	wallets []*WalletRPC
}

// Start runs one offline monerod in a fresh temporary directory (removed by
// Close) and waits until it answers.
func Start(ctx context.Context) (*Net, error) { return StartWith(ctx, Options{}) }

// StartWith runs the daemons o asks for and waits until they answer and,
// with a customer daemon, are peered.
func StartWith(ctx context.Context, o Options) (*Net, error) {
	monerod, walletRPC, err := Binaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ipnd-monerotest-")
	if err != nil {
		return nil, err
	}
	n := &Net{Dir: dir, walletRPCBin: walletRPC}
	main := daemonConfig{zmqPub: o.ZMQPub, login: o.Login}
	if o.Customer {
		if n.Customer, err = startDaemon(ctx, monerod, "customer", filepath.Join(dir, "customer"), daemonConfig{acceptPeers: true}); err != nil {
			n.Close()
			return nil, err
		}
		main.peer = n.Customer.P2PAddr
	}
	if n.Main, err = startDaemon(ctx, monerod, "main", filepath.Join(dir, "monerod"), main); err != nil {
		n.Close()
		return nil, err
	}
	n.DaemonURL, n.Daemon = n.Main.URL, n.Main.Client
	if err := n.WaitPeered(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// WaitPeered waits (up to 60 s) until the main daemon is connected to the
// customer daemon, e.g. after restarting either; without one it returns at
// once.
func (n *Net) WaitPeered(ctx context.Context) error {
	if n.Customer == nil {
		return nil
	}
	return waitFor(ctx, 60*time.Second, "main daemon peered with the customer daemon", func(ctx context.Context) (bool, error) {
		m, err := n.Main.PeerInfo(ctx)
		if err != nil {
			return false, err
		}
		c, err := n.Customer.PeerInfo(ctx)
		return err == nil && m.Outgoing > 0 && c.Incoming > 0, err
	})
}

// WaitSynced waits (up to 60 s) until the customer daemon has the main
// daemon's tip; without one it returns at once.
func (n *Net) WaitSynced(ctx context.Context) error {
	if n.Customer == nil {
		return nil
	}
	return waitFor(ctx, 60*time.Second, "customer daemon synced with the main daemon", func(ctx context.Context) (bool, error) {
		m, err := n.Main.PeerInfo(ctx)
		if err != nil {
			return false, err
		}
		c, err := n.Customer.PeerInfo(ctx)
		return err == nil && c.TopBlockHash == m.TopBlockHash, err
	})
}

// Close stops every wallet-rpc and daemon and removes the directory.
func (n *Net) Close() {
	n.mu.Lock()
	ws := n.wallets
	n.wallets = nil
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() { defer wg.Done(); w.Stop() }()
	}
	wg.Wait()
	for _, d := range []*Daemon{n.Main, n.Customer} {
		if d != nil {
			wg.Add(1)
			go func() { defer wg.Done(); d.Stop() }()
		}
	}
	wg.Wait()
	if n.Dir != "" {
		_ = os.RemoveAll(n.Dir)
	}
}

// Height is the main daemon's chain height (number of blocks; tip =
// Height-1).
func (n *Net) Height(ctx context.Context) (int64, error) {
	info, err := n.Daemon.GetInfo(ctx)
	return info.Height, err
}

// Mine mines blocks to address on the main daemon. With a customer daemon,
// WaitSynced before its wallets use the new blocks.
func (n *Net) Mine(ctx context.Context, blocks int, address string) error {
	for blocks > 0 {
		step := min(blocks, 20) // one call stays well within the client timeout on a loaded machine
		if _, err := n.Daemon.GenerateBlocks(ctx, step, address); err != nil {
			return fmt.Errorf("mine %d blocks: %w", step, err)
		}
		blocks -= step
	}
	return nil
}

// InPool reports which of txids the main daemon holds in its pool.
func (n *Net) InPool(ctx context.Context, txids ...string) (map[string]bool, error) {
	in, _, err := n.Main.TxStatus(ctx, txids...)
	return in, err
}

// TxStatus reports which of txids the daemon holds in its pool (inPool) and
// which it does not know at all (missing: not relayed to it yet, or gone).
func (d *Daemon) TxStatus(ctx context.Context, txids ...string) (inPool, missing map[string]bool, err error) {
	var out struct {
		Txs []struct {
			TxHash string `json:"tx_hash"`
			InPool bool   `json:"in_pool"`
		} `json:"txs"`
		MissedTx []string `json:"missed_tx"`
		Status   string   `json:"status"`
	}
	if err := d.Client.Plain(ctx, "/get_transactions", map[string]any{"txs_hashes": txids}, &out); err != nil {
		return nil, nil, err
	}
	inPool, missing = map[string]bool{}, map[string]bool{}
	for _, t := range out.Txs {
		if t.InPool {
			inPool[t.TxHash] = true
		}
	}
	for _, id := range out.MissedTx {
		missing[id] = true
	}
	return inPool, missing, nil
}

// WaitTx waits until the daemon knows every one of txids (in its pool or
// mined): a transaction submitted to another daemon reaches it after
// Monero's relay delay (3-6 s between two loopback nodes).
func (d *Daemon) WaitTx(ctx context.Context, limit time.Duration, txids ...string) error {
	return waitFor(ctx, limit, fmt.Sprintf("monerod %s to receive %v", d.Name, txids), func(ctx context.Context) (bool, error) {
		_, missing, err := d.TxStatus(ctx, txids...)
		return err == nil && len(missing) == 0, err
	})
}

// MineTx waits (up to 30 s) until the main daemon has every one of txids,
// then mines one block at a time to address until none of them is in the
// pool any more (a transaction can miss a block while the daemon still
// holds it back for relay) and returns the number of blocks mined.
func (n *Net) MineTx(ctx context.Context, address string, txids ...string) (int, error) {
	if err := n.Main.WaitTx(ctx, 30*time.Second, txids...); err != nil {
		return 0, err
	}
	for mined := 1; mined <= 30; mined++ {
		if err := n.Mine(ctx, 1, address); err != nil {
			return mined - 1, err
		}
		in, err := n.InPool(ctx, txids...)
		if err != nil {
			return mined, err
		}
		if len(in) == 0 {
			return mined, nil
		}
		select {
		case <-ctx.Done():
			return mined, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return 30, fmt.Errorf("transactions %v still in the pool after 30 blocks", txids)
}

// Reorg pops the top pop blocks, drops the pool (so their transactions are
// not mined again) and mines mine blocks to address: the popped blocks'
// transactions vanish from the chain.
func (n *Net) Reorg(ctx context.Context, pop, mine int, address string) error {
	if _, err := n.Daemon.PopBlocks(ctx, pop); err != nil {
		return err
	}
	if err := n.Daemon.FlushTxpool(ctx); err != nil {
		return fmt.Errorf("flush_txpool: %w", err)
	}
	return n.Mine(ctx, mine, address)
}
