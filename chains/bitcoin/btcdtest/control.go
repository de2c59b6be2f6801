package btcdtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PID is the btcd process's id; 0 when the node is stopped.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

func (n *Node) signal(sig syscall.Signal) {
	n.tb.Helper()
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil {
		n.tb.Fatalf("btcd is not running (signal %v)", sig)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		n.tb.Fatalf("signal %v to btcd: %v", sig, err)
	}
}

// Pause stops the node with SIGSTOP and returns once every thread of it
// is stopped: the kernel still accepts connections on its ports but
// nothing answers, as with a hung node. Resume undoes it; Stop and the
// test's cleanup kill a paused node too.
func (n *Node) Pause() {
	n.tb.Helper()
	n.signal(syscall.SIGSTOP)
	pid := n.runningPID()
	deadline := time.Now().Add(10 * time.Second)
	for !allStopped(pid) {
		if time.Now().After(deadline) {
			n.tb.Fatalf("btcd (pid %d) not stopped 10 s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// allStopped reports whether every thread of pid is in state T (stopped).
func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		i := bytes.LastIndexByte(b, ')')
		if f := strings.Fields(string(b[i+1:])); len(f) == 0 || f[0] != "T" {
			return false
		}
	}
	return true
}

// Resume continues a paused node (SIGCONT).
func (n *Node) Resume() { n.tb.Helper(); n.signal(syscall.SIGCONT) }

// RSS is the node's resident set size in bytes (VmRSS in /proc).
func (n *Node) RSS() int64 {
	n.tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.runningPID()))
	if err != nil {
		n.tb.Fatalf("btcd RSS: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				n.tb.Fatalf("btcd RSS: %q: %v", line, err)
			}
			return kb << 10
		}
	}
	n.tb.Fatalf("btcd RSS: no VmRSS in /proc/%d/status", n.runningPID())
	return 0
}

// CPUTime is the CPU time (user + system) the node's process used so far;
// take the difference of two readings for the cost of what happened between.
func (n *Node) CPUTime() time.Duration {
	n.tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.runningPID()))
	if err != nil {
		n.tb.Fatalf("btcd CPU time: %v", err)
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'. utime and stime are fields 14 and 15, in USER_HZ (100/s
	// on Linux whatever the kernel's own tick rate).
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		n.tb.Fatalf("btcd CPU time: short /proc stat %q", b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		n.tb.Fatalf("btcd CPU time: /proc stat %q", b)
	}
	return time.Duration(utime+stime) * (time.Second / 100)
}

func (n *Node) runningPID() int {
	n.tb.Helper()
	pid := n.PID()
	if pid == 0 {
		n.tb.Fatal("btcd is not running")
	}
	return pid
}

// Restart stops the node (if it runs) and starts it again on the same
// ports. btcd's --regtest removes the block database at every start (there
// is no flag to keep it), so the chain begins again at the genesis block: a
// reorg of everything, to a watcher. RestartKeepChain keeps the chain;
// Connect to a node that has the chain resyncs from it instead.
func (n *Node) Restart() {
	n.tb.Helper()
	n.Stop()
	n.coinMu.Lock()
	n.cursor = 1
	n.coinMu.Unlock()
	n.start()
}

// RestartKeepChain restarts the node with the chain it had, as a real
// node's restart does, and, like btcd's restart, without its mempool (a
// Fill can be sent again). The chain is saved through RPC before the stop
// and submitted again (submitblock) after the start, so for a moment (90
// ms for 300 blocks, 210 ms with a 20,000-transaction fill's blocks, on 2
// busy cores) the node answers with a shorter chain. A test whose watcher
// must not see that moment puts it behind an rpcproxy and takes the proxy
// down meanwhile, which the watcher sees as the node's restart:
//
//	proxy.SetDown(true)
//	node.RestartKeepChain()
//	proxy.SetDown(false)
func (n *Node) RestartKeepChain() {
	n.tb.Helper()
	best := n.BestHash()
	blocks := n.rawBlocks(n.Height())
	n.Stop()
	n.start()
	n.submitBlocks(blocks)
	if got := n.BestHash(); got != best {
		n.tb.Fatalf("restart: tip %s after the replay, want %s\n%s", got, best, n.LogTail())
	}
}

// rawBlocks returns the hex of blocks 1..tip of the best chain.
func (n *Node) rawBlocks(tip int64) []string {
	n.tb.Helper()
	const chunk = 500
	var out []string
	for from := int64(1); from <= tip; from += chunk {
		to := min(from+chunk-1, tip)
		var params [][]any
		for h := from; h <= to; h++ {
			params = append(params, []any{h})
		}
		hashes := n.batchStrings("getblockhash", params)
		params = params[:0]
		for _, h := range hashes {
			params = append(params, []any{h, 0})
		}
		out = append(out, n.batchStrings("getblock", params)...)
	}
	return out
}

// batchStrings runs a batch whose every reply is a JSON string.
func (n *Node) batchStrings(method string, params [][]any) []string {
	n.tb.Helper()
	replies, err := n.batch(method, params)
	if err != nil {
		n.tb.Fatalf("%v", err)
	}
	out := make([]string, len(replies))
	for i, r := range replies {
		if r.Error != nil {
			n.tb.Fatalf("%s %v: %v", method, params[i], r.Error)
		}
		if err := json.Unmarshal(r.Result, &out[i]); err != nil {
			n.tb.Fatalf("%s %v: %v", method, params[i], err)
		}
	}
	return out
}

// submitBlocks submits hex blocks in order (submitblock answers null on
// success, a reason otherwise).
func (n *Node) submitBlocks(blocks []string) {
	n.tb.Helper()
	const chunk = 200
	for from := 0; from < len(blocks); from += chunk {
		var params [][]any
		for _, b := range blocks[from:min(from+chunk, len(blocks))] {
			params = append(params, []any{b})
		}
		replies, err := n.batch("submitblock", params)
		if err != nil {
			n.tb.Fatalf("%v", err)
		}
		for i, r := range replies {
			if r.Error != nil || string(r.Result) != "null" {
				n.tb.Fatalf("submitblock (block %d of %d): %s %v", from+i+1, len(blocks), r.Result, r.Error)
			}
		}
	}
}
