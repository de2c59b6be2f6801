-- ipnd ledger, schema version 9: the sync lock's fencing token (see the
-- MySQL file of this version).
CREATE TABLE sync_fences (
  chain      VARCHAR(8) NOT NULL PRIMARY KEY,
  generation BIGINT     NOT NULL
);
