-- ipnd ledger: the MySQL/MariaDB reference schema, for reading or applying
-- by hand (mysql ipnd < DDL.sql). ipnd applies the same schema itself through
-- its embedded, versioned migrations (`ipnd migrate`, and `ipnd serve` at
-- start); a test keeps this file and the migrations identical in effect.

CREATE TABLE schema_version (
  version    INT          NOT NULL PRIMARY KEY,
  name       VARCHAR(255) NOT NULL,
  applied_at BIGINT       NOT NULL
);
INSERT INTO schema_version (version, name, applied_at) VALUES (1, '0001_init.sql', 0), (2, '0002_deposits_unlock.sql', 0),
  (3, '0003_binary_collation.sql', 0), (4, '0004_endpoint_secrets.sql', 0), (5, '0005_reasons_heartbeats_retention.sql', 0),
  (6, '0006_list_indexes.sql', 0), (7, '0007_invoices.sql', 0), (8, '0008_bech32_lower_case.sql', 0),
  (9, '0009_sync_fences.sql', 0);

-- The steps done of a migration not finished yet (MySQL commits each DDL
-- statement on its own; a migration that stopped half-way resumes here).
CREATE TABLE schema_steps (
  version    INT    NOT NULL,
  step       INT    NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (version, step)
);


CREATE TABLE chain_state (
  chain      VARCHAR(8)  NOT NULL PRIMARY KEY,
  height     BIGINT      NOT NULL,
  hash       VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  updated_at BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Recent blocks of the best chain as processed, to find a reorg's fork point.
CREATE TABLE chain_blocks (
  chain  VARCHAR(8)  NOT NULL,
  height BIGINT      NOT NULL,
  hash   VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  PRIMARY KEY (chain, height)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Next unused derivation index per chain; each allocation advances it.
CREATE TABLE address_counters (
  chain      VARCHAR(8) NOT NULL PRIMARY KEY,
  next_index BIGINT     NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE addresses (
  id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  chain            VARCHAR(8)   NOT NULL,
  address          VARCHAR(128) COLLATE utf8mb4_bin NOT NULL,   -- exact: base58 is case-sensitive, bech32 stored lower case
  derivation_index BIGINT       NULL,     -- Bitcoin: m/0/i below the account key
  account_index    BIGINT       NULL,     -- Monero account
  subaddress_index BIGINT       NULL,     -- Monero subaddress in the account
  label            VARCHAR(255) NOT NULL DEFAULT '',
  created_at       BIGINT       NOT NULL,
  UNIQUE KEY addresses_chain_address (chain, address),
  UNIQUE KEY addresses_chain_derivation (chain, derivation_index),
  UNIQUE KEY addresses_chain_subaddress (chain, account_index, subaddress_index),
  KEY addresses_label (label)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per (transaction, address, output): Bitcoin out_index is the
-- output's index, Monero uses 0 (one amount per transaction and subaddress).
CREATE TABLE deposits (
  id           BIGINT          NOT NULL AUTO_INCREMENT PRIMARY KEY,
  chain        VARCHAR(8)      NOT NULL,
  txid         VARCHAR(64)     COLLATE utf8mb4_bin NOT NULL,
  out_index    INT UNSIGNED    NOT NULL,
  address_id   BIGINT          NOT NULL,
  amount       BIGINT UNSIGNED NOT NULL,
  height       BIGINT          NOT NULL DEFAULT 0,   -- 0 while in the mempool
  block_hash   VARCHAR(64)     COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  status       VARCHAR(16)     NOT NULL,             -- mempool, confirmed, orphaned, double_spend
  reason       VARCHAR(24)     NOT NULL DEFAULT '',  -- why it last changed: seen, confirmed, reorg, double_spend, dropped_from_mempool, replaced
  unlock_time  BIGINT UNSIGNED NOT NULL DEFAULT 0,
  double_spend TINYINT         NOT NULL DEFAULT 0,
  first_seen   BIGINT          NOT NULL,
  updated_at   BIGINT          NOT NULL,
  UNIQUE KEY deposits_output (chain, txid, address_id, out_index),
  KEY deposits_address (address_id, status),
  KEY deposits_chain_status_height (chain, status, height),
  KEY deposits_unlock (chain, status, unlock_time),
  CONSTRAINT deposits_address_fk FOREIGN KEY (address_id) REFERENCES addresses (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A receiver URL: the unit signing secrets belong to. A rotated secret's
-- predecessor keeps signing (IPNs carry both signatures) until previous_until.
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
  UNIQUE KEY endpoints_url (url_hash),
  KEY endpoints_url_order (url(255))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE subscriptions (
  id               BIGINT          NOT NULL AUTO_INCREMENT PRIMARY KEY,
  chain            VARCHAR(8)      NOT NULL,
  address_id       BIGINT          NOT NULL,
  endpoint_id      BIGINT          NOT NULL,
  url              VARCHAR(2048)   NOT NULL,
  url_hash         CHAR(64)        NOT NULL,   -- sha256 of url, for the unique key
  max_confirms     INT             NOT NULL,
  legacy_secret    VARCHAR(128)    COLLATE utf8mb4_bin NOT NULL DEFAULT '',   -- a secret of its own (made before schema 4); signs too until the endpoint's first rotation
  format           VARCHAR(8)      NOT NULL DEFAULT 'json',
  active           TINYINT         NOT NULL DEFAULT 1,
  last_confirmed   BIGINT UNSIGNED NOT NULL DEFAULT 0,  -- totals of the newest notification
  last_unconfirmed BIGINT UNSIGNED NOT NULL DEFAULT 0,
  created_at       BIGINT          NOT NULL,
  updated_at       BIGINT          NOT NULL,
  UNIQUE KEY subscriptions_address_url (address_id, url_hash),
  KEY subscriptions_chain_active (chain, active),
  KEY subscriptions_endpoint_active (endpoint_id, active),
  CONSTRAINT subscriptions_address_fk FOREIGN KEY (address_id) REFERENCES addresses (id),
  CONSTRAINT subscriptions_endpoint_fk FOREIGN KEY (endpoint_id) REFERENCES endpoints (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE notifications (
  id              BIGINT          NOT NULL AUTO_INCREMENT PRIMARY KEY,
  subscription_id BIGINT          NOT NULL,
  confirmed       BIGINT UNSIGNED NOT NULL,
  unconfirmed     BIGINT UNSIGNED NOT NULL,
  height          BIGINT          NOT NULL,
  body            MEDIUMBLOB      NOT NULL,   -- the exact bytes every attempt sends
  content_type    VARCHAR(64)     NOT NULL,
  state           VARCHAR(16)     NOT NULL,   -- pending, delivered, superseded, failed
  attempts        INT             NOT NULL DEFAULT 0,
  next_attempt_at BIGINT          NOT NULL,
  lease_owner     VARCHAR(64)     NOT NULL DEFAULT '',
  lease_until     BIGINT          NOT NULL DEFAULT 0,
  last_status     INT             NOT NULL DEFAULT 0,
  last_error      VARCHAR(1024)   NOT NULL DEFAULT '',
  created_at      BIGINT          NOT NULL,
  observed_at     BIGINT          NOT NULL DEFAULT 0,   -- when the chain event it tells of was observed; 0 = subscription or redelivery
  updated_at      BIGINT          NOT NULL,
  delivered_at    BIGINT          NOT NULL DEFAULT 0,
  KEY notifications_due (state, next_attempt_at),
  KEY notifications_subscription (subscription_id, state),
  KEY notifications_lease (subscription_id, lease_until),
  KEY notifications_retention (state, created_at),
  KEY notifications_newest (subscription_id, id),
  KEY notifications_delivered (state, delivered_at),
  CONSTRAINT notifications_subscription_fk FOREIGN KEY (subscription_id) REFERENCES subscriptions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE delivery_attempts (
  id              BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  notification_id BIGINT        NOT NULL,
  subscription_id BIGINT        NOT NULL,
  attempted_at    BIGINT        NOT NULL,
  status          INT           NOT NULL,
  error           VARCHAR(1024) NOT NULL,
  delivered       TINYINT       NOT NULL,
  duration_us     BIGINT        NOT NULL,
  KEY delivery_attempts_subscription (subscription_id, id),
  KEY delivery_attempts_time (attempted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The sync role's heartbeat per chain, on the database's clock: the
-- readiness check and chain metrics of every process read it.
CREATE TABLE sync_heartbeats (
  chain       VARCHAR(8)    NOT NULL PRIMARY KEY,
  owner       VARCHAR(64)   NOT NULL,
  state       VARCHAR(16)   NOT NULL,
  height      BIGINT        NOT NULL,
  node_height BIGINT        NOT NULL,
  feed        VARCHAR(64)   NOT NULL DEFAULT '',   -- how the watcher hears of blocks: push or polling
  error       VARCHAR(1024) NOT NULL DEFAULT '',
  beat_at     BIGINT        NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The sync lock's fencing token per chain: bumped by each process that
-- takes the chain's sync lock, checked by every chain write of the holder,
-- so a process that lost the lock can no longer write the chain.
CREATE TABLE sync_fences (
  chain      VARCHAR(8) NOT NULL PRIMARY KEY,
  generation BIGINT     NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- An invoice: an amount asked for at one fresh address, its status and
-- amounts recomputed with the address's deposits and at expires_at.
CREATE TABLE invoices (
  id              BIGINT          NOT NULL AUTO_INCREMENT PRIMARY KEY,   -- internal: order of creation, list cursors
  public_id       VARCHAR(40)     COLLATE utf8mb4_bin NOT NULL,   -- inv_…: the id of the API and the checkout page
  chain           VARCHAR(8)      NOT NULL,
  address_id      BIGINT          NOT NULL,
  amount          BIGINT UNSIGNED NOT NULL,   -- asked for, atomic units
  max_confirms    INT             NOT NULL,   -- confirmations for a payment to count as paid
  created_at      BIGINT          NOT NULL,   -- the ledger's clock, as deposits' first_seen
  expires_at      BIGINT          NOT NULL,
  status          VARCHAR(16)     NOT NULL,   -- new, processing, paid, overpaid, underpaid, expired, late, reversed, cancelled
  paid            BIGINT UNSIGNED NOT NULL DEFAULT 0,   -- confirmed
  pending         BIGINT UNSIGNED NOT NULL DEFAULT 0,   -- live, not confirmed
  due             BIGINT UNSIGNED NOT NULL,
  excess          BIGINT UNSIGNED NOT NULL DEFAULT 0,
  description     VARCHAR(256)    NOT NULL DEFAULT '',
  metadata        TEXT            NULL,       -- the shop's JSON object, compact, at most 4 KB
  order_id        VARCHAR(128)    COLLATE utf8mb4_bin NULL,   -- the shop's id: one invoice per order
  subscription_id BIGINT          NULL,       -- its IPNs
  updated_at      BIGINT          NOT NULL,
  UNIQUE KEY invoices_public_id (public_id),
  UNIQUE KEY invoices_address (address_id),
  UNIQUE KEY invoices_order_id (order_id),
  KEY invoices_status_expiry (status, expires_at),
  KEY invoices_status_id (status, id),
  KEY invoices_subscription (subscription_id),
  CONSTRAINT invoices_address_fk FOREIGN KEY (address_id) REFERENCES addresses (id),
  CONSTRAINT invoices_subscription_fk FOREIGN KEY (subscription_id) REFERENCES subscriptions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
