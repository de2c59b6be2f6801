package zmqsub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

// zmtpFrame encodes one ZMTP 3.x frame.
func zmtpFrame(flags byte, body []byte) []byte {
	if len(body) > 255 {
		b := []byte{flags | flagLong}
		b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
		return append(b, body...)
	}
	return append([]byte{flags, byte(len(body))}, body...)
}

// readThrough feeds stream to a frameGuard in chunks of chunk bytes and
// returns how many bytes it let through and the first error.
func readThrough(stream []byte, chunk, maxMessage, maxFrames int) (int, error) {
	client, server := net.Pipe()
	go func() {
		for len(stream) > 0 {
			n := min(chunk, len(stream))
			if _, err := server.Write(stream[:n]); err != nil {
				break
			}
			stream = stream[n:]
		}
		server.Close()
	}()
	g := newFrameGuard(client, uint64(maxMessage), maxFrames)
	defer g.Close()
	n, err := io.Copy(io.Discard, g)
	return int(n), err
}

func TestFrameGuard(t *testing.T) {
	greeting := bytes.Repeat([]byte{0xee}, zmtpGreetingLen)
	ready := zmtpFrame(flagCommand, append([]byte("\x05READY"), bytes.Repeat([]byte{1}, 300)...)) // a long command
	msg3 := append(append(zmtpFrame(flagMore, []byte("rawtx")), zmtpFrame(flagMore, bytes.Repeat([]byte{7}, 600))...), zmtpFrame(0, []byte{0, 0, 0, 0})...)
	ok := append(append(append([]byte{}, greeting...), ready...), bytes.Repeat(msg3, 3)...)

	for _, chunk := range []int{1, 3, 64, 4096} {
		n, err := readThrough(ok, chunk, 609, 3) // 5+600+4: exactly the limit
		if err != nil || n != len(ok) {
			t.Fatalf("chunk %d: passed %d of %d bytes, error %v", chunk, n, len(ok), err)
		}
	}
	if _, err := readThrough(ok, 7, 608, 3); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("message one byte over the limit: error %v, want ErrTooLarge", err)
	}
	if _, err := readThrough(ok, 7, 1<<20, 2); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("3 frames with a limit of 2: error %v, want ErrTooLarge", err)
	}

	// A header announcing 2^62 bytes fails before any of the body is read.
	huge := append(append([]byte{}, greeting...), flagLong)
	huge = binary.BigEndian.AppendUint64(huge, 1<<62)
	huge = append(huge, 1, 2, 3)
	for _, chunk := range []int{1, 5, 100} {
		n, err := readThrough(huge, chunk, 16<<20, 8)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("chunk %d: error %v, want ErrTooLarge", chunk, err)
		}
		if n > len(greeting)+8 {
			t.Fatalf("chunk %d: %d bytes passed, the length header must not complete", chunk, n)
		}
	}
}
