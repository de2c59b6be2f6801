-- ipnd ledger, schema version 4: signing secrets belong to endpoints
-- (receiver URLs); see the MySQL migration for the whole story.
CREATE TABLE endpoints (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  url             VARCHAR(2048) NOT NULL,
  url_hash        CHAR(64)      NOT NULL,
  secret          VARCHAR(128)  NOT NULL,
  previous_secret VARCHAR(128)  NOT NULL DEFAULT '',
  previous_until  BIGINT        NOT NULL DEFAULT 0,
  legacy_until    BIGINT        NOT NULL DEFAULT 0,
  failing         TINYINT       NOT NULL DEFAULT 0,
  created_at      BIGINT        NOT NULL,
  updated_at      BIGINT        NOT NULL,
  CONSTRAINT endpoints_url UNIQUE (url_hash)
);
ALTER TABLE subscriptions RENAME COLUMN secret TO legacy_secret;
ALTER TABLE subscriptions ADD COLUMN endpoint_id BIGINT NULL REFERENCES endpoints (id);
INSERT OR IGNORE INTO endpoints (url, url_hash, secret, created_at, updated_at)
  SELECT MIN(url), url_hash, MIN(legacy_secret), MIN(created_at), MAX(updated_at) FROM subscriptions GROUP BY url_hash;
UPDATE subscriptions SET endpoint_id = (SELECT e.id FROM endpoints e WHERE e.url_hash = subscriptions.url_hash);
CREATE INDEX subscriptions_endpoint ON subscriptions (endpoint_id);
