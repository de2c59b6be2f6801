-- ipnd ledger, schema version 9: the sync lock's fencing token. Each time
-- a process takes a chain's sync lock it bumps the chain's generation;
-- every chain write checks, in its transaction, that the generation is
-- still the one its process took, so a process that lost the lock (its
-- MySQL connection holding GET_LOCK died and another process took over)
-- can no longer write the chain.
CREATE TABLE sync_fences (
  chain      VARCHAR(8) NOT NULL PRIMARY KEY,
  generation BIGINT     NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
