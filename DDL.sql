-- ipnd ledger: the MySQL/MariaDB reference schema, for reading or applying
-- by hand (mysql ipnd < DDL.sql). ipnd applies the same schema itself through
-- its embedded, versioned migrations (`ipnd migrate`, and `ipnd serve` at
-- start); a test keeps this file and the migrations identical in effect.

CREATE TABLE schema_version (
  version    INT          NOT NULL PRIMARY KEY,
  name       VARCHAR(255) NOT NULL,
  applied_at BIGINT       NOT NULL
);
INSERT INTO schema_version (version, name, applied_at) VALUES (1, '0001_init.sql', 0), (2, '0002_deposits_unlock.sql', 0);

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
  hash       VARCHAR(64) NOT NULL,
  updated_at BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Recent blocks of the best chain as processed, to find a reorg's fork point.
CREATE TABLE chain_blocks (
  chain  VARCHAR(8)  NOT NULL,
  height BIGINT      NOT NULL,
  hash   VARCHAR(64) NOT NULL,
  PRIMARY KEY (chain, height)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Next "unused" derivation index per chain; rows are locked while allocating.
CREATE TABLE address_counters (
  chain      VARCHAR(8) NOT NULL PRIMARY KEY,
  next_index BIGINT     NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE addresses (
  id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  chain            VARCHAR(8)   NOT NULL,
  address          VARCHAR(128) NOT NULL,
  derivation_index BIGINT       NULL,     -- Bitcoin: m/0/i below the account key
  account_index    BIGINT       NULL,     -- Monero account
  subaddress_index BIGINT       NULL,     -- Monero subaddress in the account
  label            VARCHAR(255) NOT NULL DEFAULT '',
  created_at       BIGINT       NOT NULL,
  UNIQUE KEY addresses_chain_address (chain, address),
  UNIQUE KEY addresses_chain_derivation (chain, derivation_index),
  UNIQUE KEY addresses_chain_subaddress (chain, account_index, subaddress_index)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per (transaction, address, output): Bitcoin out_index is the
-- output's index, Monero uses 0 (one amount per transaction and subaddress).
CREATE TABLE deposits (
  id           BIGINT          NOT NULL AUTO_INCREMENT PRIMARY KEY,
  chain        VARCHAR(8)      NOT NULL,
  txid         VARCHAR(64)     NOT NULL,
  out_index    INT UNSIGNED    NOT NULL,
  address_id   BIGINT          NOT NULL,
  amount       BIGINT UNSIGNED NOT NULL,
  height       BIGINT          NOT NULL DEFAULT 0,   -- 0 while in the mempool
  block_hash   VARCHAR(64)     NOT NULL DEFAULT '',
  status       VARCHAR(16)     NOT NULL,             -- mempool, confirmed, orphaned, double_spend
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

CREATE TABLE subscriptions (
  id               BIGINT          NOT NULL AUTO_INCREMENT PRIMARY KEY,
  chain            VARCHAR(8)      NOT NULL,
  address_id       BIGINT          NOT NULL,
  url              VARCHAR(2048)   NOT NULL,
  url_hash         CHAR(64)        NOT NULL,   -- sha256 of url, for the unique key
  max_confirms     INT             NOT NULL,
  secret           VARCHAR(128)    NOT NULL,   -- HMAC key of IPN-Signature
  format           VARCHAR(8)      NOT NULL DEFAULT 'json',
  active           TINYINT         NOT NULL DEFAULT 1,
  last_confirmed   BIGINT UNSIGNED NOT NULL DEFAULT 0,  -- totals of the newest notification
  last_unconfirmed BIGINT UNSIGNED NOT NULL DEFAULT 0,
  created_at       BIGINT          NOT NULL,
  updated_at       BIGINT          NOT NULL,
  UNIQUE KEY subscriptions_address_url (address_id, url_hash),
  KEY subscriptions_chain_active (chain, active),
  CONSTRAINT subscriptions_address_fk FOREIGN KEY (address_id) REFERENCES addresses (id)
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
  updated_at      BIGINT          NOT NULL,
  delivered_at    BIGINT          NOT NULL DEFAULT 0,
  KEY notifications_due (state, next_attempt_at),
  KEY notifications_subscription (subscription_id, state),
  KEY notifications_lease (subscription_id, lease_until),
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
  KEY delivery_attempts_subscription (subscription_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
