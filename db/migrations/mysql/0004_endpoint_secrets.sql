-- ipnd ledger, schema version 4: signing secrets belong to endpoints
-- (receiver URLs), shared by every subscription to the URL. An endpoint's
-- secret can be rotated; the previous one keeps signing (IPNs carry both
-- signatures) until previous_until.
--
-- Existing subscriptions keep their own secret as legacy_secret: their
-- IPNs are signed with the endpoint's secret and with it, so receivers that
-- verify with a per-subscription secret keep working. The endpoint's
-- secret starts as one of them; the first rotation ends the legacy
-- secrets after the grace period (legacy_until).
CREATE TABLE endpoints (
  id              BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  url             VARCHAR(2048) NOT NULL,
  url_hash        CHAR(64)      NOT NULL,   -- sha256 of url, for the unique key
  secret          VARCHAR(128)  COLLATE utf8mb4_bin NOT NULL,   -- HMAC key of IPN-Signature
  previous_secret VARCHAR(128)  COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  previous_until  BIGINT        NOT NULL DEFAULT 0,   -- previous_secret signs until then
  legacy_until    BIGINT        NOT NULL DEFAULT 0,   -- subscriptions' legacy secrets sign until then; 0 = never rotated
  failing         TINYINT       NOT NULL DEFAULT 0,   -- an attempt failed since the last acknowledgement
  created_at      BIGINT        NOT NULL,
  updated_at      BIGINT        NOT NULL,
  UNIQUE KEY endpoints_url (url_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
ALTER TABLE subscriptions CHANGE secret legacy_secret VARCHAR(128) COLLATE utf8mb4_bin NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN endpoint_id BIGINT NULL AFTER address_id;
INSERT IGNORE INTO endpoints (url, url_hash, secret, created_at, updated_at)
  SELECT MIN(url), url_hash, MIN(legacy_secret), MIN(created_at), MAX(updated_at) FROM subscriptions GROUP BY url_hash;
UPDATE subscriptions s JOIN endpoints e ON e.url_hash = s.url_hash SET s.endpoint_id = e.id;
ALTER TABLE subscriptions MODIFY endpoint_id BIGINT NOT NULL;
ALTER TABLE subscriptions ADD KEY subscriptions_endpoint (endpoint_id);
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_endpoint_fk FOREIGN KEY (endpoint_id) REFERENCES endpoints (id);
