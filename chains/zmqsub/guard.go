package zmqsub

import (
	"errors"
	"fmt"
	"net"
)

// ErrTooLarge is wrapped when a publisher announces a frame or message
// beyond the configured bounds; the connection is dropped before anything is
// allocated for it.
var ErrTooLarge = errors.New("zmq message too large")

// zmtpGreetingLen is the size of the ZMTP 3.x greeting that precedes the
// framed part of the stream.
const zmtpGreetingLen = 64

// frameGuard wraps the connection to a publisher and follows the ZMTP 3.x
// framing (greeting, then frames of flags, 1- or 8-byte length, body) of
// every byte read, so that a frame header announcing more than maxMessage
// bytes (or a message of more than maxFrames frames) fails the read that
// completes it. zmq4 allocates a frame's announced length before reading
// it, so without this a hostile or broken publisher could make the process
// allocate an arbitrary amount of memory.
type frameGuard struct {
	net.Conn
	maxMessage uint64
	maxFrames  int

	greeting  int // greeting bytes still to pass
	state     guardState
	more      bool   // the current frame is followed by another of the same message
	lenBytes  int    // length bytes still to read
	length    uint64 // the current frame's length, as far as read
	body      uint64 // body bytes still to pass
	msgBytes  uint64 // bytes of the current message so far
	msgFrames int    // frames of the current message so far
	err       error  // sticky: once violated, every read fails
}

type guardState int

const (
	guardFlags guardState = iota
	guardLength
	guardBody
)

const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

func newFrameGuard(c net.Conn, maxMessage uint64, maxFrames int) *frameGuard {
	return &frameGuard{Conn: c, maxMessage: maxMessage, maxFrames: maxFrames, greeting: zmtpGreetingLen}
}

func (g *frameGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(p)
	if verr := g.scan(p[:n]); verr != nil {
		g.err = verr
		return 0, verr
	}
	return n, err
}

// scan advances the framing state over b and reports the first violation.
func (g *frameGuard) scan(b []byte) error {
	for len(b) > 0 {
		if g.greeting > 0 {
			skip := min(g.greeting, len(b))
			g.greeting -= skip
			b = b[skip:]
			continue
		}
		switch g.state {
		case guardFlags:
			flags := b[0]
			b = b[1:]
			g.more = flags&flagMore != 0 && flags&flagCommand == 0
			g.length = 0
			g.lenBytes = 1
			if flags&flagLong != 0 {
				g.lenBytes = 8
			}
			g.state = guardLength
		case guardLength:
			g.length = g.length<<8 | uint64(b[0])
			b = b[1:]
			g.lenBytes--
			if g.lenBytes > 0 {
				continue
			}
			if err := g.frameStart(); err != nil {
				return err
			}
		case guardBody:
			skip := uint64(len(b))
			if skip > g.body {
				skip = g.body
			}
			g.body -= skip
			b = b[skip:]
			if g.body == 0 {
				g.frameEnd()
			}
		}
	}
	return nil
}

// frameStart checks a complete frame header against the bounds.
func (g *frameGuard) frameStart() error {
	g.msgFrames++
	if g.msgFrames > g.maxFrames {
		return fmt.Errorf("%w: more than %d frames in one message", ErrTooLarge, g.maxFrames)
	}
	if g.length > g.maxMessage || g.msgBytes+g.length > g.maxMessage {
		return fmt.Errorf("%w: a frame of %d bytes after %d bytes of its message exceeds the limit of %d bytes",
			ErrTooLarge, g.length, g.msgBytes, g.maxMessage)
	}
	g.msgBytes += g.length
	g.body = g.length
	g.state = guardBody
	if g.body == 0 {
		g.frameEnd()
	}
	return nil
}

func (g *frameGuard) frameEnd() {
	g.state = guardFlags
	if !g.more {
		g.msgBytes, g.msgFrames = 0, 0
	}
}
