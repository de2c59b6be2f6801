package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ipnd/ipnd/ledger"
)

// Endpoints: a receiver URL and its signing secret, shared by every
// subscription to the URL.

// ensureEndpoint returns the id and secret of url's endpoint, creating it
// with secret when it is new. Two transactions creating the same endpoint
// at once both end with the one that won (INSERT IGNORE waits for the
// other's row, and under READ COMMITTED the SELECT after it sees it).
func (l *Ledger) ensureEndpoint(ctx context.Context, tx *sql.Tx, url, secret string) (int64, string, error) {
	h := urlHash(url)
	now := micros(l.now())
	if _, err := tx.ExecContext(ctx, l.dialect.insertIgnore+` INTO endpoints (url, url_hash, secret, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?)`, url, h, secret, now, now); err != nil {
		return 0, "", fmt.Errorf("record endpoint: %w", err)
	}
	var id int64
	var stored string
	if err := tx.QueryRowContext(ctx, `SELECT id, secret FROM endpoints WHERE url_hash = ?`, h).Scan(&id, &stored); err != nil {
		return 0, "", fmt.Errorf("record endpoint: %w", err)
	}
	return id, stored, nil
}

const endpointCols = `e.id, e.url, e.secret, e.previous_secret, e.previous_until, e.legacy_until, e.created_at, e.updated_at,
  (SELECT COUNT(*) FROM subscriptions s WHERE s.endpoint_id = e.id AND s.active = 1)`

func endpointBy(ctx context.Context, q queryer, where string, args ...any) (ledger.Endpoint, error) {
	var e ledger.Endpoint
	var prevUntil, legacyUntil, created, updated int64
	err := q.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM endpoints e WHERE `+where, args...).Scan(
		&e.ID, &e.URL, &e.Secret, &e.PreviousSecret, &prevUntil, &legacyUntil, &created, &updated, &e.Subscriptions)
	if err != nil {
		return ledger.Endpoint{}, notFound(err, "endpoint")
	}
	e.PreviousUntil, e.LegacyUntil = fromMicros(prevUntil), fromMicros(legacyUntil)
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	return e, nil
}

// Endpoint returns the endpoint of a receiver URL (ErrNotFound when no
// subscription ever used it).
func (l *Ledger) Endpoint(ctx context.Context, url string) (ledger.Endpoint, error) {
	return endpointBy(ctx, l.db, `e.url_hash = ?`, urlHash(url))
}

// RotateEndpointSecret gives url's endpoint the signing secret newSecret.
// The secret it had keeps signing for grace (every IPN carries both
// signatures until then); at the first rotation the subscriptions' own
// legacy secrets get the same grace. A rotation within the grace of the
// previous one ends that one's predecessor at once.
func (l *Ledger) RotateEndpointSecret(ctx context.Context, url, newSecret string, grace time.Duration) (ledger.Endpoint, error) {
	if newSecret == "" {
		return ledger.Endpoint{}, errors.New("rotate endpoint secret: empty secret")
	}
	if grace < 0 {
		grace = 0
	}
	var e ledger.Endpoint
	err := l.ExecTx(ctx, func(tx *sql.Tx) error {
		now := l.now()
		until := micros(now.Add(grace))
		res, err := tx.ExecContext(ctx, `UPDATE endpoints SET previous_secret = secret, previous_until = ?, secret = ?,
  legacy_until = CASE WHEN legacy_until = 0 THEN ? ELSE legacy_until END, updated_at = ? WHERE url_hash = ?`,
			until, newSecret, until, micros(now), urlHash(url))
		if err != nil {
			return fmt.Errorf("rotate endpoint secret: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("endpoint: %w", ledger.ErrNotFound)
		}
		e, err = endpointBy(ctx, tx, `e.url_hash = ?`, urlHash(url))
		return err
	})
	return e, err
}

// extraSecrets lists the secrets that sign an IPN besides the endpoint's
// current one at now: its previous secret during the grace period, and the
// subscription's legacy secret until the endpoint's first rotation has
// passed its grace period.
func extraSecrets(current, previous string, previousUntil int64, legacy string, legacyUntil int64, now int64) []string {
	var out []string
	if previous != "" && previous != current && previousUntil > now {
		out = append(out, previous)
	}
	if legacy != "" && legacy != current && legacy != previous && (legacyUntil == 0 || legacyUntil > now) {
		out = append(out, legacy)
	}
	return out
}
