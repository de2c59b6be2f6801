//go:build !unix

package testenv

import "net"

// ReservePort returns a loopback TCP port free right now (no reservation off
// unix).
func ReservePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
