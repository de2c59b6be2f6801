package db_test

import (
	"strings"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
)

// TestMigrationLowerCasesBech32: a ledger written before addresses were
// canonicalised holds upper-case bech32 rows. Migration 8 lower-cases a
// row without a twin, and folds a row whose lower-case twin exists (a gap
// address the watcher recorded) into the twin: its subscription and
// deposits move, the row goes. Base58 and Monero rows are untouched.
// Afterwards a payment the watcher reports in lower case reaches the
// subscription made with the upper-case form.
func TestMigrationLowerCasesBech32(t *testing.T) {
	const (
		solo = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
		twin = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
		b58  = "3J98T1WPEZ73CNMQVIECRNYIWRNQRHWNLY" // upper case, not bech32: left alone
	)
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			l, err := db.Open(ctx, driver, dbtest.DSN(t, driver), db.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if _, _, err := l.MigrateUpTo(ctx, 7); err != nil {
				t.Fatal(err)
			}
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := l.DB().Exec(q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			ins := `INSERT INTO addresses (id, chain, address, derivation_index, label, created_at) VALUES (?, 'btc', ?, ?, '', 0)`
			exec(ins, 1, strings.ToUpper(solo), nil)
			exec(ins, 2, strings.ToUpper(twin), nil)
			exec(ins, 3, twin, 5)
			exec(ins, 4, b58, nil)
			exec(`INSERT INTO addresses (id, chain, address, account_index, subaddress_index, label, created_at) VALUES (5, 'xmr', 'BC1QXMRLOOKALIKE', 0, 1, '', 0)`)
			exec(`INSERT INTO endpoints (id, url, url_hash, secret, created_at, updated_at) VALUES (1, 'http://r.example/', 'h', 's', 0, 0)`)
			sub := `INSERT INTO subscriptions (id, chain, address_id, url, url_hash, endpoint_id, max_confirms, format, legacy_secret, active, created_at, updated_at)
  VALUES (?, 'btc', ?, 'http://r.example/', 'h', 1, 0, 'json', '', 1, 0, 0)`
			exec(sub, 1, 1)
			exec(sub, 2, 2)
			dep := `INSERT INTO deposits (chain, txid, out_index, address_id, amount, height, block_hash, status, first_seen, updated_at)
  VALUES ('btc', ?, 0, ?, ?, 0, '', 'mempool', 0, 0)`
			exec(dep, "on-upper", 2, 4)
			exec(dep, "on-twin", 3, 6)
			if _, to, err := l.Migrate(ctx); err != nil || to < 8 {
				t.Fatalf("migrate: %d %v", to, err)
			}
			addrs := map[int64]string{}
			rows, err := l.DB().Query(`SELECT id, address FROM addresses`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id int64
				var s string
				if err := rows.Scan(&id, &s); err != nil {
					t.Fatal(err)
				}
				addrs[id] = s
			}
			rows.Close()
			want := map[int64]string{1: solo, 3: twin, 4: b58, 5: "BC1QXMRLOOKALIKE"}
			if len(addrs) != len(want) {
				t.Fatalf("addresses %v, want %v", addrs, want)
			}
			for id, s := range want {
				if addrs[id] != s {
					t.Fatalf("addresses %v, want %v", addrs, want)
				}
			}
			var subAddr, depAddr int64
			if err := l.DB().QueryRow(`SELECT address_id FROM subscriptions WHERE id = 2`).Scan(&subAddr); err != nil || subAddr != 3 {
				t.Fatalf("subscription of the upper-case twin: address %d, %v", subAddr, err)
			}
			if err := l.DB().QueryRow(`SELECT address_id FROM deposits WHERE txid = 'on-upper'`).Scan(&depAddr); err != nil || depAddr != 3 {
				t.Fatalf("deposit of the upper-case twin: address %d, %v", depAddr, err)
			}
			wantBalance(t, l, chains.BTC, strings.ToUpper(twin), 1, 0, 10)
			if _, err := l.ApplyChainUpdate(ctx, chains.BTC, chains.ChainUpdate{Mempool: []chains.Payment{{TxID: "new", Address: solo, Amount: 3}}}); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := l.DB().QueryRow(`SELECT COUNT(*) FROM notifications WHERE subscription_id = 1`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("subscription made with the upper-case form: %d notifications, %v", n, err)
			}
		})
	}
}
