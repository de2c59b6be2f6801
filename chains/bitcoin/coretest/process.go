package coretest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Deadlines of the process helpers (generous: they bound "eventually").
const (
	readyTimeout = 60 * time.Second
	// stopTimeout covers Core's wait for keep-alive connections at
	// shutdown (-rpcservertimeout, 30 s) and the shutdown itself.
	stopTimeout = 90 * time.Second
)

// proc is the litecoind process behind a Node and its views.
type proc struct {
	bin string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
}

func (p *proc) running() (*exec.Cmd, chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.exited, p.paused
}

// launch starts litecoind and waits until its RPC answers. fresh picks new
// ports and credentials (and retries on a port taken in between); a restart
// keeps them.
func (n *Node) launch(fresh bool) {
	tb := n.tb
	tb.Helper()
	for attempt := 1; ; attempt++ {
		if fresh {
			n.RPCHost, n.P2P = freePort(tb), freePort(tb)
			if n.Options.Auth == AuthPassword {
				n.User, n.Pass = "ipnd", "regtest-pass"
			}
			n.clients()
		}
		err := n.spawn()
		if err == nil {
			return
		}
		if !fresh || attempt == 3 || !portTaken(n.LogTail()) {
			tb.Fatalf("litecoind: %v\n%s", err, n.LogTail())
		}
	}
}

// portTaken reports whether litecoind's log says a port was taken (by
// another process between freePort and the bind).
func portTaken(log string) bool {
	return strings.Contains(log, "Unable to bind") || strings.Contains(log, "Unable to start HTTP server")
}

type startError string

func (e startError) Error() string { return string(e) }

// spawn runs the process and polls getblockcount until it answers, the
// process exits or readyTimeout passes.
func (n *Node) spawn() error {
	tb := n.tb
	tb.Helper()
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		tb.Fatalf("datadir: %v", err)
	}
	stderr, err := os.Create(filepath.Join(n.Dir, "stderr.log"))
	if err != nil {
		tb.Fatalf("stderr log: %v", err)
	}
	defer stderr.Close()
	cmd := exec.Command(n.p.bin, n.args()...)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// litecoind dies with the test process that started it, even on SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", n.p.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.p.mu.Lock()
	n.p.cmd, n.p.exited, n.p.paused = cmd, exited, false
	n.p.mu.Unlock()

	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := n.RPC.Call(ctx, "getblockcount", nil)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			n.Kill()
			return startError("not ready after " + readyTimeout.String() + ": " + err.Error())
		}
		select {
		case <-exited:
			n.p.mu.Lock()
			n.p.cmd = nil
			n.p.mu.Unlock()
			return startError("exited while starting: " + cmd.ProcessState.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (n *Node) createWallet() {
	n.tb.Helper()
	// createwallet name disable_private_keys blank passphrase avoid_reuse
	// descriptors load_on_startup: a legacy wallet (0.21's default), loaded
	// again when the node restarts.
	n.Call("createwallet", nil, WalletName, false, false, "", false, false, true)
	n.MiningAddress = n.NewAddress("bech32")
}

// PID is the process id of the running litecoind (0 when stopped).
func (n *Node) PID() int {
	cmd, _, _ := n.p.running()
	if cmd == nil {
		return 0
	}
	return cmd.Process.Pid
}

// LogTail returns the end of the node's debug.log and stderr, for failure
// messages.
func (n *Node) LogTail() string {
	var b []byte
	for _, f := range []string{filepath.Join(n.Dir, "regtest", "debug.log"), filepath.Join(n.Dir, "stderr.log")} {
		c, _ := os.ReadFile(f)
		if len(c) > 3000 {
			c = c[len(c)-3000:]
		}
		b = append(b, c...)
	}
	return string(b)
}

// Stop shuts the node down with the RPC `stop` (what `litecoin-cli stop`
// sends) and returns how long the process took to exit after the request.
// A node that does not answer gets SIGTERM (also a clean shutdown); one
// still running after 90 s is killed. A paused node is resumed first.
// Stopping a stopped node returns 0.
func (n *Node) Stop() time.Duration {
	cmd, exited, paused := n.p.running()
	if cmd == nil {
		return 0
	}
	if paused {
		n.Resume()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := n.RPC.Call(ctx, "stop", nil)
	cancel()
	if err != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-exited
	}
	took := time.Since(start)
	n.p.mu.Lock()
	n.p.cmd = nil
	n.p.mu.Unlock()
	return took
}

// Kill ends the node with SIGKILL (no clean shutdown) and waits for it.
func (n *Node) Kill() {
	cmd, exited, _ := n.p.running()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
	n.p.mu.Lock()
	n.p.cmd = nil
	n.p.mu.Unlock()
}

// Restart stops the node (cleanly) and starts it again on the same ports
// and data directory: the chain, the wallet and the mempool (mempool.dat)
// survive; with AuthCookie the cookie is a new one (Cookie). It returns how
// long the stop took.
func (n *Node) Restart() time.Duration {
	n.tb.Helper()
	took := n.Stop()
	n.launch(false)
	return took
}

// Pause stops the process with SIGSTOP and waits until every thread is
// stopped: it keeps its sockets, accepts connections and answers nothing (a
// hung node). Resume continues it.
func (n *Node) Pause() { n.tb.Helper(); n.signal(syscall.SIGSTOP, true) }

// Resume continues a paused node with SIGCONT.
func (n *Node) Resume() { n.tb.Helper(); n.signal(syscall.SIGCONT, false) }

func (n *Node) signal(sig syscall.Signal, pause bool) {
	n.tb.Helper()
	n.p.mu.Lock()
	defer n.p.mu.Unlock()
	if n.p.cmd == nil {
		n.tb.Fatalf("signal %v: litecoind is not running", sig)
		return
	}
	pid := n.p.cmd.Process.Pid
	if err := n.p.cmd.Process.Signal(sig); err != nil {
		n.tb.Fatalf("signal %v: %v", sig, err)
	}
	// A signal is delivered asynchronously: wait until all threads show it.
	deadline := time.Now().Add(10 * time.Second)
	for !threadsStopped(pid, pause) {
		if time.Now().After(deadline) {
			n.tb.Fatalf("litecoind threads not %s after %v", map[bool]string{true: "stopped", false: "running"}[pause], sig)
		}
		time.Sleep(time.Millisecond)
	}
	n.p.paused = pause
}

// threadsStopped reports whether every thread of pid is (want) or none is
// (!want) in the stopped state T.
func threadsStopped(pid int, want bool) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(dir + "/" + task.Name() + "/stat")
		if err != nil {
			continue // thread gone
		}
		// Fields after the command (which may hold spaces): "<state> ...".
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) {
			return false
		}
		if (stat[i+2] == 'T') != want {
			return false
		}
	}
	return true
}
