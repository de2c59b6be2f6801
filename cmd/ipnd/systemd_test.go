package main

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/internal/testenv"
)

// pausableProxy forwards TCP to target; while paused it holds every byte,
// so a client mid-call hangs as on a stuck node.
// While refusing it closes every new connection at once, as a node that
// is down.
type pausableProxy struct {
	ln       net.Listener
	paused   atomic.Bool
	refusing atomic.Bool
}

func newPausableProxy(t *testing.T, target string) *pausableProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pausableProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.refusing.Load() {
				c.Close()
				continue
			}
			go p.serve(c, target)
		}
	}()
	return p
}

func (p *pausableProxy) serve(c net.Conn, target string) {
	defer c.Close()
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	pipe := func(dst io.Writer, src io.Reader) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			for p.paused.Load() {
				time.Sleep(20 * time.Millisecond)
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go pipe(up, c)
	pipe(c, up)
}

// notifications collects what ipnd sends on NOTIFY_SOCKET.
type notifications struct {
	mu   sync.Mutex
	msgs []string
	at   []time.Time
}

func (n *notifications) since(t time.Time, msg string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for i, m := range n.msgs {
		if m == msg && n.at[i].After(t) {
			c++
		}
	}
	return c
}

func (n *notifications) waitFor(t *testing.T, msg string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if n.since(time.Time{}, msg) > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	t.Fatalf("no %q on NOTIFY_SOCKET within %s; got %v", msg, within, n.msgs)
}

// listenNotify listens on a NOTIFY_SOCKET for the test's duration.
func listenNotify(t *testing.T) (*notifications, string) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := &notifications{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			got.mu.Lock()
			for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
				got.msgs = append(got.msgs, line)
				got.at = append(got.at, time.Now())
			}
			got.mu.Unlock()
		}
	}()
	return got, sock
}

// TestSystemdNotifyAndWatchdog: READY=1 once the node answered, WATCHDOG=1
// pings while the chain loop progresses, none while it is stuck on a node
// that stopped answering mid-call, pings again while the loop backs off
// from a node that refuses connections (its last poll grows older than
// WatchdogSec, but the loop is alive: a restart would not help; the
// watchdog used to look at the last poll's age and stopped pinging), and
// STOPPING=1 on SIGTERM.
func TestSystemdNotifyAndWatchdog(t *testing.T) {
	node := btcdtest.Start(t, btcdtest.Options{})
	node.Generate(1)
	proxy := newPausableProxy(t, node.RPCHost)

	got, sock := listenNotify(t)

	dir := t.TempDir()
	cmd := exec.Command(ipndBin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000",
		"IPND_SERVER_LISTEN="+testenv.FreeAddr(t), "IPND_SERVER_API_KEYS=test-api-key-0123456789",
		"IPND_SERVER_LOG_LEVEL=debug", "IPND_DATABASE_DSN="+filepath.Join(dir, "ipnd.db"),
		"IPND_BITCOIN_ENABLED=true", "IPND_BITCOIN_NETWORK=regtest", "IPND_BITCOIN_RPC_HOST="+proxy.ln.Addr().String(),
		"IPND_BITCOIN_RPC_USER="+node.User, "IPND_BITCOIN_RPC_PASSWORD="+node.Pass, "IPND_BITCOIN_XPUB="+accountTPub(t),
		"IPND_BITCOIN_POLL_INTERVAL=100ms")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("ipnd logs:\n%s", tail(logs.String(), 40))
		}
	}()

	got.waitFor(t, "READY=1", 30*time.Second)
	start := time.Now()
	time.Sleep(2 * time.Second)
	if n := got.since(start, "WATCHDOG=1"); n < 2 {
		t.Fatalf("%d watchdog pings in 2 s of normal running (WatchdogSec=1s), want at least 2", n)
	}
	// The node hangs mid-call: the chain loop stops; so must the pings.
	proxy.paused.Store(true)
	time.Sleep(1500 * time.Millisecond) // the loop's last round goes stale after 1 s
	quiet := time.Now()
	time.Sleep(2 * time.Second)
	if n := got.since(quiet, "WATCHDOG=1"); n != 0 {
		t.Fatalf("%d watchdog pings while the chain loop was stuck", n)
	}
	// It recovers by itself once the node answers again.
	proxy.paused.Store(false)
	time.Sleep(3 * time.Second)
	back := time.Now()
	time.Sleep(1500 * time.Millisecond)
	if n := got.since(back, "WATCHDOG=1"); n == 0 {
		t.Fatal("no watchdog pings after the node answered again")
	}
	// The node goes down: the loop backs off (after the fifth failed
	// round it waits 3.2 s, longer than WatchdogSec) and stays alive.
	proxy.refusing.Store(true)
	testenv.WaitFor(t, 20*time.Second, "a fifth failed round against the refusing node", func() bool {
		return strings.Contains(logs.String(), `failures=5`)
	})
	time.Sleep(1200 * time.Millisecond) // the last poll is now older than WatchdogSec
	backingOff := time.Now()
	time.Sleep(1800 * time.Millisecond)
	if n := got.since(backingOff, "WATCHDOG=1"); n < 2 {
		t.Fatalf("%d watchdog pings in 1.8 s while the chain loop backed off from a down node, want at least 2", n)
	}
	proxy.refusing.Store(false)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15 s of SIGTERM")
	}
	got.waitFor(t, "STOPPING=1", time.Second)
}
