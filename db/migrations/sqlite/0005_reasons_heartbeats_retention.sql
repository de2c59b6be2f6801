-- ipnd ledger, schema version 5: deposit reasons, notification observation
-- times, retention indexes and the sync heartbeats (see the MySQL file).
ALTER TABLE deposits ADD COLUMN reason VARCHAR(24) NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN observed_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX notifications_retention ON notifications (state, created_at);
CREATE INDEX delivery_attempts_time ON delivery_attempts (attempted_at);
CREATE TABLE sync_heartbeats (
  chain       VARCHAR(8)    NOT NULL PRIMARY KEY,
  owner       VARCHAR(64)   NOT NULL,
  state       VARCHAR(16)   NOT NULL,
  height      BIGINT        NOT NULL,
  node_height BIGINT        NOT NULL,
  feed        VARCHAR(64)   NOT NULL DEFAULT '',
  error       VARCHAR(1024) NOT NULL DEFAULT '',
  beat_at     BIGINT        NOT NULL
);
