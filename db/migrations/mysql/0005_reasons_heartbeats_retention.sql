-- ipnd ledger, schema version 5.
-- Why a deposit last changed (seen, confirmed, reorg, double_spend,
-- dropped_from_mempool, replaced), as the chain write said.
ALTER TABLE deposits ADD COLUMN reason VARCHAR(24) NOT NULL DEFAULT '' AFTER status;
-- When the chain event that made a notification was observed (0: made by
-- a subscription or a redelivery), for the payment latency metrics.
ALTER TABLE notifications ADD COLUMN observed_at BIGINT NOT NULL DEFAULT 0 AFTER created_at;
-- Retention: old delivered and superseded notifications, old attempts.
ALTER TABLE notifications ADD KEY notifications_retention (state, created_at);
ALTER TABLE delivery_attempts ADD KEY delivery_attempts_time (attempted_at);
-- The sync role's heartbeat per chain: every process's readiness check
-- and chain metrics read it.
CREATE TABLE sync_heartbeats (
  chain       VARCHAR(8)    NOT NULL PRIMARY KEY,
  owner       VARCHAR(64)   NOT NULL,
  state       VARCHAR(16)   NOT NULL,
  height      BIGINT        NOT NULL,
  node_height BIGINT        NOT NULL,
  feed        VARCHAR(64)   NOT NULL DEFAULT '',   -- how the watcher hears of blocks: push or polling
  error       VARCHAR(1024) NOT NULL DEFAULT '',
  beat_at     BIGINT        NOT NULL   -- the database's clock, unix microseconds
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
