-- ipnd ledger, schema version 3: addresses, transaction ids, block hashes
-- and secrets compare byte for byte (utf8mb4_bin), as on SQLite. Base58
-- addresses are case-sensitive; the default collation made two addresses
-- that differ only in case one. Each statement is safe to run again.
ALTER TABLE addresses MODIFY address VARCHAR(128) COLLATE utf8mb4_bin NOT NULL;
ALTER TABLE deposits MODIFY txid VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
  MODIFY block_hash VARCHAR(64) COLLATE utf8mb4_bin NOT NULL DEFAULT '';
ALTER TABLE subscriptions MODIFY secret VARCHAR(128) COLLATE utf8mb4_bin NOT NULL;
ALTER TABLE chain_state MODIFY hash VARCHAR(64) COLLATE utf8mb4_bin NOT NULL;
ALTER TABLE chain_blocks MODIFY hash VARCHAR(64) COLLATE utf8mb4_bin NOT NULL;
