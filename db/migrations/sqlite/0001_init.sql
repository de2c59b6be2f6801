-- ipnd ledger, schema version 1 (SQLite).
-- Amounts are INTEGER         atomic units (satoshi, piconero); times are
-- BIGINT unix microseconds (UTC); heights are signed (0 = none).

CREATE TABLE chain_state (
  chain      VARCHAR(8)  NOT NULL PRIMARY KEY,
  height     BIGINT      NOT NULL,
  hash       VARCHAR(64) NOT NULL,
  updated_at BIGINT      NOT NULL
);

-- Recent blocks of the best chain as processed, to find a reorg's fork point.
CREATE TABLE chain_blocks (
  chain  VARCHAR(8)  NOT NULL,
  height BIGINT      NOT NULL,
  hash   VARCHAR(64) NOT NULL,
  PRIMARY KEY (chain, height)
);

-- Next "unused" derivation index per chain; rows are locked while allocating.
CREATE TABLE address_counters (
  chain      VARCHAR(8) NOT NULL PRIMARY KEY,
  next_index BIGINT     NOT NULL
);

CREATE TABLE addresses (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  chain            VARCHAR(8)   NOT NULL,
  address          VARCHAR(128) NOT NULL,
  derivation_index BIGINT       NULL,     -- Bitcoin: m/0/i below the account key
  account_index    BIGINT       NULL,     -- Monero account
  subaddress_index BIGINT       NULL,     -- Monero subaddress in the account
  label            VARCHAR(255) NOT NULL DEFAULT '',
  created_at       BIGINT       NOT NULL,
  CONSTRAINT addresses_chain_address UNIQUE (chain, address),
  CONSTRAINT addresses_chain_derivation UNIQUE (chain, derivation_index),
  CONSTRAINT addresses_chain_subaddress UNIQUE (chain, account_index, subaddress_index)
);

-- One row per (transaction, address, output): Bitcoin out_index is the
-- output's index, Monero uses 0 (one amount per transaction and subaddress).
CREATE TABLE deposits (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  chain        VARCHAR(8)      NOT NULL,
  txid         VARCHAR(64)     NOT NULL,
  out_index    INTEGER         NOT NULL,
  address_id   BIGINT          NOT NULL,
  amount       INTEGER         NOT NULL,
  height       BIGINT          NOT NULL DEFAULT 0,   -- 0 while in the mempool
  block_hash   VARCHAR(64)     NOT NULL DEFAULT '',
  status       VARCHAR(16)     NOT NULL,             -- mempool, confirmed, orphaned, double_spend
  unlock_time  INTEGER         NOT NULL DEFAULT 0,
  double_spend TINYINT         NOT NULL DEFAULT 0,
  first_seen   BIGINT          NOT NULL,
  updated_at   BIGINT          NOT NULL,
  CONSTRAINT deposits_output UNIQUE (chain, txid, address_id, out_index),
  CONSTRAINT deposits_address_fk FOREIGN KEY (address_id) REFERENCES addresses (id)
);
CREATE INDEX deposits_address ON deposits (address_id, status);
CREATE INDEX deposits_chain_status_height ON deposits (chain, status, height);

CREATE TABLE subscriptions (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  chain            VARCHAR(8)      NOT NULL,
  address_id       BIGINT          NOT NULL,
  url              VARCHAR(2048)   NOT NULL,
  url_hash         CHAR(64)        NOT NULL,   -- sha256 of url, for the unique key
  max_confirms     INT             NOT NULL,
  secret           VARCHAR(128)    NOT NULL,   -- HMAC key of IPN-Signature
  format           VARCHAR(8)      NOT NULL DEFAULT 'json',
  active           TINYINT         NOT NULL DEFAULT 1,
  last_confirmed   INTEGER         NOT NULL DEFAULT 0,  -- totals of the newest notification
  last_unconfirmed INTEGER         NOT NULL DEFAULT 0,
  created_at       BIGINT          NOT NULL,
  updated_at       BIGINT          NOT NULL,
  CONSTRAINT subscriptions_address_url UNIQUE (address_id, url_hash),
  CONSTRAINT subscriptions_address_fk FOREIGN KEY (address_id) REFERENCES addresses (id)
);
CREATE INDEX subscriptions_chain_active ON subscriptions (chain, active);

CREATE TABLE notifications (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id BIGINT          NOT NULL,
  confirmed       INTEGER         NOT NULL,
  unconfirmed     INTEGER         NOT NULL,
  height          BIGINT          NOT NULL,
  body            BLOB            NOT NULL,   -- the exact bytes every attempt sends
  content_type    VARCHAR(64)     NOT NULL,
  state           VARCHAR(16)     NOT NULL,   -- pending, delivered, superseded, failed
  attempts        INT             NOT NULL DEFAULT 0,
  next_attempt_at BIGINT          NOT NULL,
  lease_owner     VARCHAR(64)     NOT NULL DEFAULT '',
  lease_until     BIGINT          NOT NULL DEFAULT 0,
  last_status     INT             NOT NULL DEFAULT 0,
  last_error      VARCHAR(1024)   NOT NULL DEFAULT '',
  created_at      BIGINT          NOT NULL,
  updated_at      BIGINT          NOT NULL,
  delivered_at    BIGINT          NOT NULL DEFAULT 0,
  CONSTRAINT notifications_subscription_fk FOREIGN KEY (subscription_id) REFERENCES subscriptions (id)
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE INDEX notifications_subscription ON notifications (subscription_id, state);
CREATE INDEX notifications_lease ON notifications (subscription_id, lease_until);

CREATE TABLE delivery_attempts (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  notification_id BIGINT        NOT NULL,
  subscription_id BIGINT        NOT NULL,
  attempted_at    BIGINT        NOT NULL,
  status          INT           NOT NULL,
  error           VARCHAR(1024) NOT NULL,
  delivered       TINYINT       NOT NULL,
  duration_us     BIGINT        NOT NULL
);
CREATE INDEX delivery_attempts_subscription ON delivery_attempts (subscription_id, id);
