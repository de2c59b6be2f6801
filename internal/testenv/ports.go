//go:build unix

package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Test nodes (btcd, monerod, monero-wallet-rpc) need ports chosen before
// they start. A port picked by listening on :0 and closing is the kernel's
// next ephemeral port: until the node binds it, any outgoing connection on
// the machine may take it as its local port, and another test process may
// be handed the same one (a node that then fails to bind, or a test talking
// to another test's node). ReservePort instead takes ports from below the
// ephemeral range (never used as a local port) and reserves each one for
// the life of this process with a lock on a file named after it, which
// every test process honours; the lock goes with the process, however it
// ends.

var (
	portsMu  sync.Mutex
	reserved []*os.File // the lock files, kept open (a closed file drops its lock)
)

// portRange is the range FreePort takes ports from: 24000 up to the start
// of the kernel's ephemeral range (at most 32000), above the private
// MariaDB of scripts/with-test-deps.sh (23306-23406).
func portRange() (lo, hi int) {
	lo, hi = 24000, 32000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if eph, err := strconv.Atoi(f[0]); err == nil && eph-1 < hi {
				hi = eph - 1
			}
		}
	}
	if hi-lo < 1000 {
		lo = max(1024, hi-4000)
	}
	return lo, hi
}

// ReservePort reserves a loopback TCP port for this process (see above): no
// other test process gets it, it is outside the ephemeral range, and it
// was free when reserved.
func ReservePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	dir := filepath.Join(os.TempDir(), "ipnd-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, fmt.Errorf("test ports: %w", err)
	}
	lo, hi := portRange()
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := 0; i < n; i++ {
		port := lo + (start+i)%n
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return 0, fmt.Errorf("test ports: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close() // another test process (or this one) has it
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			f.Close() // in use by something that does not take part
			continue
		}
		l.Close()
		reserved = append(reserved, f)
		return port, nil
	}
	return 0, fmt.Errorf("test ports: none free in %d-%d", lo, hi)
}
