package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The ledger's clock. Every time the ledger stores or compares (leases,
// due times, heartbeats, retention) comes from it, so processes on
// machines whose clocks disagree still agree on when a lease ran out: on
// MySQL it is the database server's clock (this machine's clock plus the
// offset measured with SELECT NOW(6), refreshed every clockRefresh), on
// SQLite, which lives on this machine, this machine's clock.

// clockRefresh is how often the MySQL clock offset is measured again.
const clockRefresh = 30 * time.Second

// localClock is this machine's clock (a test skews it).
var localClock = time.Now

// dbClock follows the database server's clock.
type dbClock struct {
	local  func() time.Time // this machine's clock
	offset atomic.Int64     // server minus local, nanoseconds
}

func newDBClock() *dbClock { return &dbClock{local: localClock} }

func (c *dbClock) now() time.Time { return c.local().Add(time.Duration(c.offset.Load())) }

// measure reads the server's clock once and keeps its offset from the
// local clock, taken at the middle of the round trip.
func (c *dbClock) measure(ctx context.Context, q queryer) error {
	start := c.local()
	var s string
	if err := q.QueryRowContext(ctx, `SELECT CAST(UNIX_TIMESTAMP(NOW(6)) AS CHAR)`).Scan(&s); err != nil {
		return fmt.Errorf("read the database clock: %w", err)
	}
	end := c.local()
	server, err := parseUnixMicros(s)
	if err != nil {
		return fmt.Errorf("read the database clock: %w", err)
	}
	mid := start.Add(end.Sub(start) / 2)
	c.offset.Store(int64(server.Sub(mid)))
	return nil
}

// follow measures the offset every clockRefresh until ctx ends.
func (c *dbClock) follow(ctx context.Context, q queryer) {
	t := time.NewTicker(clockRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = c.measure(mctx, q) // keep the last offset on failure
			cancel()
		}
	}
}

// parseUnixMicros reads "1732780000.123456" exactly.
func parseUnixMicros(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad unix time %q", s)
	}
	frac = (frac + "000000")[:6]
	us, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad unix time %q", s)
	}
	return time.Unix(n, us*1000), nil
}

// Now is the ledger's clock: Options.Now when set, else the database's
// (see above). The IPN worker takes its times from it.
func (l *Ledger) Now() time.Time { return l.now() }

// ClockOffset is how far the database server's clock is ahead of this
// machine's (0 on SQLite or with Options.Now).
func (l *Ledger) ClockOffset() time.Duration {
	if l.clock == nil {
		return 0
	}
	return time.Duration(l.clock.offset.Load())
}
