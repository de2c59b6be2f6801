package monerotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ipnd/ipnd/chains/monero"
)

// WalletOptions configure a wallet-rpc process.
type WalletOptions struct {
	// Login "user:pass" turns on --rpc-login (digest auth); empty disables
	// authentication.
	Login string
	// Daemon is the monerod the wallet-rpc uses (default: Net.Main). Its
	// RPC login, if any, is passed on (--daemon-login).
	Daemon *Daemon
}

// WalletRPC is one monero-wallet-rpc process with (at most) one open wallet.
type WalletRPC struct {
	Name   string
	URL    string
	Client *monero.WalletClient
	Dir    string // --wallet-dir

	net      *Net
	opts     WalletOptions
	port     int
	mu       sync.Mutex
	proc     *process
	daemon   *Daemon
	openFile string
}

// StartWalletRPC starts a wallet-rpc process named name (its directory is
// <Net.Dir>/<name>) with no wallet open.
func (n *Net) StartWalletRPC(ctx context.Context, name string, o WalletOptions) (*WalletRPC, error) {
	w := &WalletRPC{Name: name, net: n, opts: o, Dir: filepath.Join(n.Dir, name), daemon: o.Daemon}
	if w.daemon == nil {
		w.daemon = n.Main
	}
	if err := os.MkdirAll(w.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := w.start(ctx); err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.wallets = append(n.wallets, w)
	n.mu.Unlock()
	return w, nil
}

func (w *WalletRPC) start(ctx context.Context) error {
	var lastErr error
	for try := 0; try < 3; try++ {
		port := w.port
		if port == 0 || try > 0 {
			p, err := FreePort()
			if err != nil {
				return err
			}
			port = p
		}
		w.mu.Lock()
		daemon := w.daemon
		w.mu.Unlock()
		args := []string{
			"--daemon-address", daemon.addr(), "--daemon-ssl", "disabled", "--rpc-ssl", "disabled",
			"--trusted-daemon", "--wallet-dir", w.Dir, "--rpc-bind-ip", "127.0.0.1",
			"--rpc-bind-port", strconv.Itoa(port), "--shared-ringdb-dir", filepath.Join(w.Dir, "ringdb"),
			"--log-file", filepath.Join(w.Dir, "wallet-rpc.log"), "--non-interactive", "--disable-rpc-ban",
		}
		if daemon.Login != "" {
			args = append(args, "--daemon-login", daemon.Login)
		}
		opts := monero.ClientOptions{Timeout: 120 * time.Second}
		if w.opts.Login != "" {
			args = append(args, "--rpc-login", w.opts.Login)
			opts.User, opts.Password, _ = strings.Cut(w.opts.Login, ":")
		} else {
			args = append(args, "--disable-rpc-login")
		}
		proc, err := startProcess(w.net.walletRPCBin, args, filepath.Join(w.Dir, "wallet-rpc.out"))
		if err != nil {
			return err
		}
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		client, err := monero.NewWalletClient(url, opts)
		if err != nil {
			proc.stop(time.Second)
			return err
		}
		err = waitReady(ctx, proc, 60*time.Second, func(ctx context.Context) error {
			_, err := client.GetVersion(ctx)
			return err
		})
		if err == nil {
			w.mu.Lock()
			w.proc, w.port, w.URL, w.Client = proc, port, url, client
			w.mu.Unlock()
			return nil
		}
		lastErr = err
		proc.stop(5 * time.Second)
		if !proc.exited() || ctx.Err() != nil {
			break
		}
	}
	out, _ := os.ReadFile(filepath.Join(w.Dir, "wallet-rpc.out"))
	return fmt.Errorf("wallet-rpc %s did not start: %w: %s", w.Name, lastErr, tail(string(out), 800))
}

// Stop stops the process (SIGTERM; the wallet is saved on exit).
func (w *WalletRPC) Stop() {
	w.mu.Lock()
	p := w.proc
	w.mu.Unlock()
	if p != nil && !p.exited() && w.Client != nil && w.openFile != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = w.Client.Store(ctx)
		cancel()
	}
	p.stop(15 * time.Second)
}

// Restart starts the process again on the same port and re-opens the wallet
// that was open.
func (w *WalletRPC) Restart(ctx context.Context) error {
	w.Stop()
	if err := w.start(ctx); err != nil {
		return err
	}
	if w.openFile != "" {
		return w.Client.Call(ctx, "open_wallet", map[string]any{"filename": w.openFile, "password": ""}, nil)
	}
	return nil
}

// Daemon is the monerod the wallet-rpc uses now.
func (w *WalletRPC) Daemon() *Daemon {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.daemon
}

// UseDaemon switches the wallet-rpc to d (set_daemon, trusted, with d's
// login), also for later restarts.
func (w *WalletRPC) UseDaemon(ctx context.Context, d *Daemon) error {
	user, pass, _ := strings.Cut(d.Login, ":")
	err := w.Client.Call(ctx, "set_daemon", map[string]any{
		"address": d.URL, "trusted": true, "ssl_support": "disabled", "username": user, "password": pass,
	}, nil)
	if err != nil {
		return fmt.Errorf("set_daemon %s: %w", d.Name, err)
	}
	w.mu.Lock()
	w.daemon = d
	w.mu.Unlock()
	return nil
}

// CreateWallet creates and opens a new full (spending) wallet.
func (w *WalletRPC) CreateWallet(ctx context.Context, file string) error {
	if err := w.Client.Call(ctx, "create_wallet", map[string]any{"filename": file, "password": "", "language": "English"}, nil); err != nil {
		return fmt.Errorf("create_wallet %s: %w", file, err)
	}
	w.openFile = file
	return nil
}

// RestoreViewOnly creates and opens a view-only wallet from an address and
// its private view key, scanning from restoreHeight.
func (w *WalletRPC) RestoreViewOnly(ctx context.Context, file, address, viewKey string, restoreHeight int64) error {
	err := w.Client.Call(ctx, "generate_from_keys", map[string]any{
		"filename": file, "address": address, "viewkey": viewKey, "password": "", "restore_height": restoreHeight,
	}, nil)
	if err != nil {
		return fmt.Errorf("generate_from_keys %s: %w", file, err)
	}
	w.openFile = file
	return nil
}

// CloseWallet closes the open wallet (saving it).
func (w *WalletRPC) CloseWallet(ctx context.Context) error {
	if err := w.Client.Call(ctx, "close_wallet", nil, nil); err != nil {
		return err
	}
	w.openFile = ""
	return nil
}

// OpenWallet opens an existing wallet file of this process's directory.
func (w *WalletRPC) OpenWallet(ctx context.Context, file string) error {
	if err := w.Client.Call(ctx, "open_wallet", map[string]any{"filename": file, "password": ""}, nil); err != nil {
		return err
	}
	w.openFile = file
	return nil
}

// PrimaryAddress is the open wallet's address (account 0, index 0).
func (w *WalletRPC) PrimaryAddress(ctx context.Context) (string, error) {
	r, err := w.Client.GetAddress(ctx, 0, []uint32{0})
	return r.Address, err
}

// ViewKey returns the open wallet's private view key.
func (w *WalletRPC) ViewKey(ctx context.Context) (string, error) {
	return w.Client.QueryKey(ctx, "view_key")
}

// Destination is one output of a transfer.
type Destination struct {
	Address string `json:"address"`
	Amount  uint64 `json:"amount"`
}

// Transfer sends one transaction paying every destination (at most 15) and
// returns its txid.
func (w *WalletRPC) Transfer(ctx context.Context, dests ...Destination) (string, error) {
	return w.transfer(ctx, map[string]any{"destinations": dests, "ring_size": 16})
}

// TransferLocked is Transfer with the transaction's unlock_time set: a block
// height below 500,000,000, a Unix time from there on. wallet-rpc 0.18
// accepts any uint64, up to 2^64-1 (locked for ever); monerod relays it and
// view wallets report it.
func (w *WalletRPC) TransferLocked(ctx context.Context, unlockTime uint64, dests ...Destination) (string, error) {
	return w.transfer(ctx, map[string]any{"destinations": dests, "ring_size": 16, "unlock_time": unlockTime})
}

func (w *WalletRPC) transfer(ctx context.Context, params map[string]any) (string, error) {
	var out struct {
		TxHash string `json:"tx_hash"`
	}
	if err := w.Client.Call(ctx, "transfer", params, &out); err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	return out.TxHash, nil
}

// DoubleSpend builds two transactions spending the same output (two
// sweep_single of one key image, the first to a, the second to b), relays the
// first and submits the second, which monerod refuses as a double spend. It
// returns both txids.
func (w *WalletRPC) DoubleSpend(ctx context.Context, a, b string) (first, second string, err error) {
	if _, err := w.Client.Refresh(ctx); err != nil {
		return "", "", err
	}
	var incoming struct {
		Transfers []struct {
			Amount   uint64 `json:"amount"`
			KeyImage string `json:"key_image"`
			Spent    bool   `json:"spent"`
			Unlocked bool   `json:"unlocked"`
		} `json:"transfers"`
	}
	if err := w.Client.Call(ctx, "incoming_transfers", map[string]any{"transfer_type": "available"}, &incoming); err != nil {
		return "", "", fmt.Errorf("incoming_transfers: %w", err)
	}
	keyImage := ""
	for _, t := range incoming.Transfers {
		if !t.Spent && t.Unlocked && t.KeyImage != "" {
			keyImage = t.KeyImage
			break
		}
	}
	if keyImage == "" {
		return "", "", errors.New("double spend: no unlocked output")
	}
	sweep := func(to string) (string, string, error) {
		var out struct {
			TxHashList []string `json:"tx_hash_list"`
			TxBlob     []string `json:"tx_blob_list"`
			TxHash     string   `json:"tx_hash"`
			TxBlobOne  string   `json:"tx_blob"`
		}
		err := w.Client.Call(ctx, "sweep_single", map[string]any{
			"address": to, "key_image": keyImage, "ring_size": 16, "do_not_relay": true, "get_tx_hex": true,
		}, &out)
		if err != nil {
			return "", "", fmt.Errorf("sweep_single: %w", err)
		}
		if out.TxHash != "" {
			return out.TxHash, out.TxBlobOne, nil
		}
		if len(out.TxHashList) == 0 || len(out.TxBlob) == 0 {
			return "", "", errors.New("sweep_single: no transaction")
		}
		return out.TxHashList[0], out.TxBlob[0], nil
	}
	id1, hex1, err := sweep(a)
	if err != nil {
		return "", "", err
	}
	id2, hex2, err := sweep(b)
	if err != nil {
		return "", "", err
	}
	daemon := w.Daemon().Client
	r1, err := daemon.SendRawTransaction(ctx, hex1)
	if err != nil {
		return "", "", err
	}
	if r1.Status != "OK" {
		return "", "", fmt.Errorf("send first spend: %s %s", r1.Status, r1.Reason)
	}
	r2, err := daemon.SendRawTransaction(ctx, hex2)
	if err != nil {
		return "", "", err
	}
	if !r2.DoubleSpend {
		return "", "", fmt.Errorf("second spend was not refused as a double spend: %+v", r2)
	}
	return id1, id2, nil
}
