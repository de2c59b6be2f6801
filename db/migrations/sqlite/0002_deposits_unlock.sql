-- ipnd ledger, schema version 2: find Monero deposits whose unlock time a
-- chain write crosses without scanning every confirmed deposit.
CREATE INDEX deposits_unlock ON deposits (chain, status, unlock_time);
