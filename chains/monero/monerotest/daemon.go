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

// Daemon is one monerod process (--regtest --fixed-difficulty 1) on
// loopback ports that stay the same across Stop and Start.
type Daemon struct {
	Name string
	// URL is the RPC base URL, http://127.0.0.1:PORT.
	URL string
	// Client talks to the RPC, with Login's credentials when set.
	Client *monero.DaemonClient
	// ZMQPub is the ZMQ publisher endpoint, tcp://127.0.0.1:PORT, or "" when
	// the daemon does not publish.
	ZMQPub string
	// Login is the "user:pass" of --rpc-login (HTTP digest), or "".
	Login string
	// P2PAddr is the p2p listen address, 127.0.0.1:PORT.
	P2PAddr string
	// Dir holds the data directory and the logs (monerod.log, monerod.out).
	Dir string

	bin  string
	cfg  daemonConfig
	port struct{ rpc, p2p, zmqRPC, zmqPub int }

	mu   sync.Mutex
	proc *process
}

// daemonConfig is what differs between the daemons of a Net.
type daemonConfig struct {
	zmqPub bool
	login  string
	// peer, when set, is the only node this daemon connects to
	// (--add-exclusive-node); without it and without acceptPeers the
	// daemon runs --offline.
	peer string
	// acceptPeers: online but connecting out to no one (--out-peers 0).
	acceptPeers bool
}

// startDaemon picks free ports and starts a daemon in dir, retrying with
// other ports when it exits early (a port taken in between).
func startDaemon(ctx context.Context, bin, name, dir string, cfg daemonConfig) (*Daemon, error) {
	d := &Daemon{Name: name, Dir: dir, bin: bin, cfg: cfg, Login: cfg.login}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var lastErr error
	for try := 0; try < 3; try++ {
		ports := make([]int, 4)
		for i := range ports {
			p, err := FreePort()
			if err != nil {
				return nil, err
			}
			ports[i] = p
		}
		d.port.rpc, d.port.p2p, d.port.zmqRPC, d.port.zmqPub = ports[0], ports[1], ports[2], ports[3]
		d.URL = "http://" + d.addr()
		d.P2PAddr = "127.0.0.1:" + strconv.Itoa(d.port.p2p)
		if cfg.zmqPub {
			d.ZMQPub = "tcp://127.0.0.1:" + strconv.Itoa(d.port.zmqPub)
		}
		opts := monero.ClientOptions{Timeout: 60 * time.Second}
		opts.User, opts.Password, _ = strings.Cut(cfg.login, ":")
		client, err := monero.NewDaemonClient(d.URL, opts)
		if err != nil {
			return nil, err
		}
		d.Client = client
		lastErr = d.Start(ctx)
		if lastErr == nil {
			return d, nil
		}
		d.mu.Lock()
		exited := d.proc == nil || d.proc.exited()
		d.mu.Unlock()
		if !exited || ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("monerod %s did not start: %w", name, lastErr)
}

// addr is the RPC address, 127.0.0.1:PORT (wallet-rpc's --daemon-address).
func (d *Daemon) addr() string { return "127.0.0.1:" + strconv.Itoa(d.port.rpc) }

func (d *Daemon) args() []string {
	args := []string{
		"--regtest", "--keep-fakechain", "--fixed-difficulty", "1", "--non-interactive",
		"--data-dir", filepath.Join(d.Dir, "data"), "--log-file", filepath.Join(d.Dir, "monerod.log"), "--log-level", "0",
		"--rpc-bind-ip", "127.0.0.1", "--rpc-bind-port", strconv.Itoa(d.port.rpc), "--rpc-ssl", "disabled",
		"--p2p-bind-ip", "127.0.0.1", "--p2p-bind-port", strconv.Itoa(d.port.p2p), "--no-igd",
	}
	if d.cfg.zmqPub {
		// --no-zmq would stop the publisher too: the ZMQ RPC server gets a
		// port of its own instead.
		args = append(args, "--zmq-rpc-bind-ip", "127.0.0.1", "--zmq-rpc-bind-port", strconv.Itoa(d.port.zmqRPC),
			"--zmq-pub", d.ZMQPub)
	} else {
		args = append(args, "--no-zmq")
	}
	if d.cfg.login != "" {
		args = append(args, "--rpc-login", d.cfg.login)
	}
	switch {
	case d.cfg.peer != "":
		args = append(args, "--add-exclusive-node", d.cfg.peer, "--allow-local-ip", "--check-updates", "disabled")
	case d.cfg.acceptPeers:
		args = append(args, "--out-peers", "0", "--allow-local-ip", "--check-updates", "disabled")
	default:
		args = append(args, "--offline")
	}
	return args
}

// Start starts the daemon again after Stop, on the same ports and with its
// chain (--keep-fakechain), and waits until its RPC answers. A peered daemon
// reconnects by itself: Net.WaitPeered waits for that.
func (d *Daemon) Start(ctx context.Context) error {
	d.mu.Lock()
	if d.proc != nil && !d.proc.exited() {
		d.mu.Unlock()
		return fmt.Errorf("monerod %s is running", d.Name)
	}
	d.mu.Unlock()
	proc, err := startProcess(d.bin, d.args(), filepath.Join(d.Dir, "monerod.out"))
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.proc = proc
	d.mu.Unlock()
	err = waitReady(ctx, proc, 60*time.Second, func(ctx context.Context) error {
		_, err := d.Client.GetInfo(ctx)
		return err
	})
	if err != nil {
		proc.stop(5 * time.Second)
		out, _ := os.ReadFile(filepath.Join(d.Dir, "monerod.out"))
		return fmt.Errorf("%w: %s", err, tail(string(out), 800))
	}
	return nil
}

// Stop stops the daemon (SIGTERM, then SIGKILL after 20 s); its chain stays
// on disk for Start.
func (d *Daemon) Stop() {
	d.mu.Lock()
	p := d.proc
	d.mu.Unlock()
	p.stop(20 * time.Second)
}

// Restart is Stop then Start.
func (d *Daemon) Restart(ctx context.Context) error {
	d.Stop()
	return d.Start(ctx)
}

// Running reports whether the process is alive.
func (d *Daemon) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.proc != nil && !d.proc.exited()
}

// PeerInfo is the part of get_info about the chain and the p2p connections.
type PeerInfo struct {
	Height       int64  `json:"height"`
	TopBlockHash string `json:"top_block_hash"`
	Incoming     int    `json:"incoming_connections_count"`
	Outgoing     int    `json:"outgoing_connections_count"`
	Synchronized bool   `json:"synchronized"`
}

// PeerInfo returns the daemon's height, tip and connection counts.
func (d *Daemon) PeerInfo(ctx context.Context) (PeerInfo, error) {
	var out PeerInfo
	err := d.Client.Call(ctx, "get_info", nil, &out)
	return out, err
}

// Height is the daemon's chain height (number of blocks; tip = Height-1).
func (d *Daemon) Height(ctx context.Context) (int64, error) {
	info, err := d.PeerInfo(ctx)
	return info.Height, err
}

// waitFor polls cond every 50 ms until it holds, limit passes or ctx ends.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(limit)
	var lastErr error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %s (last error: %v)", what, limit, lastErr)
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
