package console

import "time"

// Test hooks: the external tests reach these through the Console.

func SetHeartbeat(c *Console, d time.Duration) { c.heartbeat = d }

func OpenStreams(c *Console) int {
	c.streamsMu.Lock()
	defer c.streamsMu.Unlock()
	return c.streams
}

func Sessions(c *Console) int { return c.sessions.count() }

const CSP = csp
const WakeGap = wakeGap
