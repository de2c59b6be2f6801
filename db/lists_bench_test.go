package db_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/ledger"
)

// seedLists fills a ledger with subs subscriptions over 20 endpoints, five
// notifications each (four delivered, the newest delivered, or failing for
// one in fifty), an attempt per notification, written with multi-row
// INSERTs (the list queries read; how the rows came is not measured).
func seedLists(b *testing.B, l *db.Ledger, subs int) {
	b.Helper()
	conn := l.DB()
	now := time.Now().UnixMicro()
	exec := func(q string) {
		if _, err := conn.Exec(q); err != nil {
			b.Fatalf("%v\n%.300s", err, q)
		}
	}
	batch := func(prefix string, n int, row func(i int) string) {
		for start := 0; start < n; start += 1000 {
			var rows []string
			for i := start; i < min(start+1000, n); i++ {
				rows = append(rows, row(i))
			}
			exec(prefix + strings.Join(rows, ","))
		}
	}
	batch(`INSERT INTO endpoints (id, url, url_hash, secret, created_at, updated_at) VALUES `, 20, func(i int) string {
		return fmt.Sprintf("(%d, 'https://shop%02d.example/ipn', '%064x', 'k', %d, %d)", i+1, i, i, now, now)
	})
	batch(`INSERT INTO addresses (id, chain, address, derivation_index, label, created_at) VALUES `, subs, func(i int) string {
		return fmt.Sprintf("(%d, 'btc', 'bcrt1qbench%010d', %d, 'order %d', %d)", i+1, i, i, i, now)
	})
	batch(`INSERT INTO subscriptions (id, chain, address_id, endpoint_id, url, url_hash, max_confirms, format, active, created_at, updated_at) VALUES `,
		subs, func(i int) string {
			return fmt.Sprintf("(%d, 'btc', %d, %d, 'https://shop%02d.example/ipn', '%064x', 1, 'json', 1, %d, %d)", i+1, i+1, i%20+1, i%20, i, now, now)
		})
	batch(`INSERT INTO notifications (id, subscription_id, confirmed, unconfirmed, height, body, content_type, state, attempts,
  next_attempt_at, created_at, observed_at, updated_at, delivered_at) VALUES `, 5*subs, func(i int) string {
		sub, k := i/5+1, i%5
		state, attempts, delivered := ledger.NoteDelivered, 1, now-int64(5*subs-i)*1000
		if k == 4 && sub%50 == 0 {
			state, attempts, delivered = ledger.NotePending, 3, 0
		}
		return fmt.Sprintf("(%d, %d, %d, 0, 1, '', 'application/json', '%s', %d, %d, %d, %d, %d, %d)",
			i+1, sub, 1000*(k+1), state, attempts, now+3600e6, now, delivered-500e3, now, delivered)
	})
	batch(`INSERT INTO delivery_attempts (notification_id, subscription_id, attempted_at, status, error, delivered, duration_us) VALUES `,
		5*subs, func(i int) string {
			return fmt.Sprintf("(%d, %d, %d, 200, '', 1, 1000)", i+1, i/5+1, now)
		})
}

// BenchmarkListQueries: each list query's first page (50 rows, the
// console's page) on MySQL with 20,000 subscriptions, 100,000
// notifications and 100,000 attempts; 400 subscriptions failing.
//
//	go test ./db -run '^$' -bench ListQueries
func BenchmarkListQueries(b *testing.B) {
	l := dbtest.Ledger(b, "mysql", db.Options{})
	seedLists(b, l, 20_000)
	page := ledger.Cursor{Limit: 50}
	for _, q := range []struct {
		name string
		run  func() (int, error)
	}{
		{"subscriptions", func() (int, error) {
			p, err := l.ListSubscriptions(ctx, ledger.SubscriptionQuery{Cursor: page})
			return len(p.Items), err
		}},
		{"subscriptions-failing", func() (int, error) {
			p, err := l.ListSubscriptions(ctx, ledger.SubscriptionQuery{State: ledger.FailingSubscriptions, Cursor: page})
			return len(p.Items), err
		}},
		{"subscriptions-url-prefix", func() (int, error) {
			p, err := l.ListSubscriptions(ctx, ledger.SubscriptionQuery{URLPrefix: "https://shop07.", Cursor: page})
			return len(p.Items), err
		}},
		{"notifications", func() (int, error) {
			p, err := l.ListNotifications(ctx, ledger.NotificationQuery{Cursor: page})
			return len(p.Items), err
		}},
		{"notifications-failing", func() (int, error) {
			p, err := l.ListNotifications(ctx, ledger.NotificationQuery{Failing: true, Cursor: page})
			return len(p.Items), err
		}},
		{"addresses-label", func() (int, error) {
			p, err := l.ListAddresses(ctx, ledger.AddressQuery{Label: "order 1999", Cursor: page})
			return len(p.Items), err
		}},
		{"endpoints", func() (int, error) {
			p, err := l.ListEndpoints(ctx, ledger.EndpointQuery{Cursor: page})
			return len(p.Items), err
		}},
		{"delivery-stats", func() (int, error) {
			st, err := l.DeliveryStats(ctx, time.Now().Add(-time.Hour))
			return int(st.Failing), err
		}},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				if n, err := q.run(); err != nil || n == 0 {
					b.Fatalf("%d rows, %v", n, err)
				}
			}
		})
	}
}
