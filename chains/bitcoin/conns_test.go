package bitcoin

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ownConns counts this process's established TCP connections to host
// (host:port), from /proc: how a test sees that the watcher keeps no
// connection open to a node, which would hold a Core node's shutdown.
func ownConns(t *testing.T, host string) int {
	t.Helper()
	_, portStr, err := net.SplitHostPort(host)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := filepath.Glob("/proc/self/fd/*")
	if err != nil {
		t.Fatal(err)
	}
	sockets := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			sockets[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, f := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // no IPv6
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "01" { // ESTABLISHED
				continue
			}
			if strings.HasSuffix(fs[2], fmt.Sprintf(":%04X", port)) && sockets[fs[9]] {
				n++
			}
		}
	}
	return n
}

// waitNoConns waits until this process has no connection open to host.
func waitNoConns(t *testing.T, host string) {
	t.Helper()
	waitFor(t, "no connection open to "+host, func() bool { return ownConns(t, host) == 0 })
}
