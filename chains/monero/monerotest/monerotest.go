// Package monerotest runs a real Monero regtest network for tests: one
// monerod (--regtest --offline --fixed-difficulty 1) and any number of
// monero-wallet-rpc processes, each with one wallet, on free loopback ports in
// temporary directories.
//
// monerod uses ~560 MB: start one per test package, in TestMain.
package monerotest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipnd/ipnd/chains/monero"
)

// ErrMissing is wrapped when monerod or monero-wallet-rpc is not installed.
var ErrMissing = errors.New("monero binaries not found")

// Binaries locates monerod and monero-wallet-rpc: env IPND_MONEROD and
// IPND_MONERO_WALLET_RPC, else $PATH, else /usr/bin.
func Binaries() (monerod, walletRPC string, err error) {
	find := func(env, name string) (string, error) {
		if p := os.Getenv(env); p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%w: %s=%s: %v", ErrMissing, env, p, err)
			}
			return p, nil
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		p := filepath.Join("/usr/bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("%w: %s is not in $PATH (apt-get install monero, or set %s)", ErrMissing, name, env)
	}
	if monerod, err = find("IPND_MONEROD", "monerod"); err != nil {
		return "", "", err
	}
	if walletRPC, err = find("IPND_MONERO_WALLET_RPC", "monero-wallet-rpc"); err != nil {
		return "", "", err
	}
	return monerod, walletRPC, nil
}

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Net is a running regtest daemon and the wallet-rpcs started on it.
type Net struct {
	Dir       string
	DaemonURL string
	Daemon    *monero.DaemonClient

	walletRPCBin string
	daemonAddr   string
	proc         *process

	mu      sync.Mutex
	wallets []*WalletRPC
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProcess(bin string, args []string, logPath string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Die with the test binary even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start runs monerod in a fresh temporary directory (removed by Close) and
// waits until it answers.
func Start(ctx context.Context) (*Net, error) {
	monerod, walletRPC, err := Binaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ipnd-monerotest-")
	if err != nil {
		return nil, err
	}
	n := &Net{Dir: dir, walletRPCBin: walletRPC}
	for try := 0; try < 3; try++ {
		rpcPort, err1 := FreePort()
		p2pPort, err2 := FreePort()
		if err := errors.Join(err1, err2); err != nil {
			n.Close()
			return nil, err
		}
		data := filepath.Join(dir, "monerod")
		args := []string{
			"--regtest", "--offline", "--fixed-difficulty", "1", "--non-interactive",
			"--data-dir", data, "--rpc-bind-ip", "127.0.0.1", "--rpc-bind-port", strconv.Itoa(rpcPort),
			"--rpc-ssl", "disabled", "--no-igd", "--no-zmq", "--p2p-bind-ip", "127.0.0.1",
			"--p2p-bind-port", strconv.Itoa(p2pPort), "--log-level", "0",
			"--log-file", filepath.Join(dir, "monerod.log"),
		}
		n.proc, err = startProcess(monerod, args, filepath.Join(dir, "monerod.out"))
		if err != nil {
			n.Close()
			return nil, err
		}
		n.daemonAddr = "127.0.0.1:" + strconv.Itoa(rpcPort)
		n.DaemonURL = "http://" + n.daemonAddr
		n.Daemon, _ = monero.NewDaemonClient(n.DaemonURL, monero.ClientOptions{Timeout: 60 * time.Second})
		err = waitReady(ctx, n.proc, 60*time.Second, func(ctx context.Context) error {
			_, err := n.Daemon.GetInfo(ctx)
			return err
		})
		if err == nil {
			return n, nil
		}
		n.proc.stop(5 * time.Second)
		if !n.proc.exited() || ctx.Err() != nil {
			break
		}
		// exited early: most likely a port race; try other ports
	}
	out, _ := os.ReadFile(filepath.Join(dir, "monerod.out"))
	n.Close()
	return nil, fmt.Errorf("monerod did not start: %s", tail(string(out), 800))
}

func waitReady(ctx context.Context, p *process, limit time.Duration, probe func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := probe(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("process exited: %v", p.err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not ready after %s: %w", limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Close stops every wallet-rpc and monerod and removes the directory.
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
	n.proc.stop(20 * time.Second)
	if n.Dir != "" {
		_ = os.RemoveAll(n.Dir)
	}
}

// Height is the daemon's chain height (number of blocks; tip = Height-1).
func (n *Net) Height(ctx context.Context) (int64, error) {
	info, err := n.Daemon.GetInfo(ctx)
	return info.Height, err
}

// Mine mines blocks to address.
func (n *Net) Mine(ctx context.Context, blocks int, address string) error {
	for blocks > 0 {
		step := min(blocks, 100)
		if _, err := n.Daemon.GenerateBlocks(ctx, step, address); err != nil {
			return fmt.Errorf("mine %d blocks: %w", step, err)
		}
		blocks -= step
	}
	return nil
}

// InPool reports which of txids monerod holds in its pool.
func (n *Net) InPool(ctx context.Context, txids ...string) (map[string]bool, error) {
	var out struct {
		Txs []struct {
			TxHash string `json:"tx_hash"`
			InPool bool   `json:"in_pool"`
		} `json:"txs"`
		Status string `json:"status"`
	}
	if err := n.Daemon.Plain(ctx, "/get_transactions", map[string]any{"txs_hashes": txids}, &out); err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, t := range out.Txs {
		if t.InPool {
			in[t.TxHash] = true
		}
	}
	return in, nil
}

// MineTx mines one block at a time to address until none of txids is in the
// pool any more (a transaction can miss a block while the daemon still
// holds it back for relay) and returns the number of blocks mined.
func (n *Net) MineTx(ctx context.Context, address string, txids ...string) (int, error) {
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

// WalletOptions configure a wallet-rpc process.
type WalletOptions struct {
	// Login "user:pass" turns on --rpc-login (digest auth); empty disables
	// authentication.
	Login string
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
	openFile string
}

// StartWalletRPC starts a wallet-rpc process named name (its directory is
// <Net.Dir>/<name>) with no wallet open.
func (n *Net) StartWalletRPC(ctx context.Context, name string, o WalletOptions) (*WalletRPC, error) {
	w := &WalletRPC{Name: name, net: n, opts: o, Dir: filepath.Join(n.Dir, name)}
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
		args := []string{
			"--daemon-address", w.net.daemonAddr, "--daemon-ssl", "disabled", "--rpc-ssl", "disabled",
			"--trusted-daemon", "--wallet-dir", w.Dir, "--rpc-bind-ip", "127.0.0.1",
			"--rpc-bind-port", strconv.Itoa(port), "--shared-ringdb-dir", filepath.Join(w.Dir, "ringdb"),
			"--log-file", filepath.Join(w.Dir, "wallet-rpc.log"), "--non-interactive", "--disable-rpc-ban",
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
	return fmt.Errorf("wallet-rpc %s did not start: %v: %s", w.Name, lastErr, tail(string(out), 800))
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
	var out struct {
		TxHash string `json:"tx_hash"`
	}
	err := w.Client.Call(ctx, "transfer", map[string]any{"destinations": dests, "ring_size": 16}, &out)
	if err != nil {
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
	r1, err := w.net.Daemon.SendRawTransaction(ctx, hex1)
	if err != nil {
		return "", "", err
	}
	if r1.Status != "OK" {
		return "", "", fmt.Errorf("send first spend: %s %s", r1.Status, r1.Reason)
	}
	r2, err := w.net.Daemon.SendRawTransaction(ctx, hex2)
	if err != nil {
		return "", "", err
	}
	if !r2.DoubleSpend {
		return "", "", fmt.Errorf("second spend was not refused as a double spend: %+v", r2)
	}
	return id1, id2, nil
}
