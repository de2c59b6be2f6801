-- ipnd ledger, schema version 8: bech32 addresses in lower case. BIP173
-- allows an all-upper-case bech32 address (QR codes); ipnd stores the
-- lower-case form and watchers report payments in it, but ledgers written
-- before addresses were canonicalised may hold the upper-case form as
-- given. Such a row becomes lower case; where the lower-case row exists
-- too (a gap address the watcher recorded), the upper-case row's deposits,
-- subscriptions and invoice move to it (those it already has stay where
-- they are) and the upper-case row is removed once nothing refers to it.
-- Each statement can run again (a resumed migration).
UPDATE deposits d
  JOIN addresses u ON u.id = d.address_id
  JOIN addresses t ON t.chain = u.chain AND t.address = LOWER(u.address)
  LEFT JOIN deposits x ON x.chain = d.chain AND x.txid = d.txid AND x.address_id = t.id AND x.out_index = d.out_index
  SET d.address_id = t.id
  WHERE x.id IS NULL AND u.chain IN ('btc', 'ltc') AND u.address = UPPER(u.address) AND u.address <> LOWER(u.address)
  AND (u.address LIKE 'BC1%' OR u.address LIKE 'TB1%' OR u.address LIKE 'BCRT1%' OR u.address LIKE 'SB1%'
       OR u.address LIKE 'LTC1%' OR u.address LIKE 'TLTC1%' OR u.address LIKE 'RLTC1%');
UPDATE subscriptions s
  JOIN addresses u ON u.id = s.address_id
  JOIN addresses t ON t.chain = u.chain AND t.address = LOWER(u.address)
  LEFT JOIN subscriptions x ON x.address_id = t.id AND x.url_hash = s.url_hash
  SET s.address_id = t.id
  WHERE x.id IS NULL AND u.chain IN ('btc', 'ltc') AND u.address = UPPER(u.address) AND u.address <> LOWER(u.address)
  AND (u.address LIKE 'BC1%' OR u.address LIKE 'TB1%' OR u.address LIKE 'BCRT1%' OR u.address LIKE 'SB1%'
       OR u.address LIKE 'LTC1%' OR u.address LIKE 'TLTC1%' OR u.address LIKE 'RLTC1%');
UPDATE invoices i
  JOIN addresses u ON u.id = i.address_id
  JOIN addresses t ON t.chain = u.chain AND t.address = LOWER(u.address)
  LEFT JOIN invoices x ON x.address_id = t.id
  SET i.address_id = t.id
  WHERE x.id IS NULL AND u.chain IN ('btc', 'ltc') AND u.address = UPPER(u.address) AND u.address <> LOWER(u.address)
  AND (u.address LIKE 'BC1%' OR u.address LIKE 'TB1%' OR u.address LIKE 'BCRT1%' OR u.address LIKE 'SB1%'
       OR u.address LIKE 'LTC1%' OR u.address LIKE 'TLTC1%' OR u.address LIKE 'RLTC1%');
DELETE u FROM addresses u
  JOIN addresses t ON t.chain = u.chain AND t.address = LOWER(u.address)
  WHERE u.chain IN ('btc', 'ltc') AND u.address = UPPER(u.address) AND u.address <> LOWER(u.address)
  AND (u.address LIKE 'BC1%' OR u.address LIKE 'TB1%' OR u.address LIKE 'BCRT1%' OR u.address LIKE 'SB1%'
       OR u.address LIKE 'LTC1%' OR u.address LIKE 'TLTC1%' OR u.address LIKE 'RLTC1%')
  AND NOT EXISTS (SELECT 1 FROM deposits d WHERE d.address_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.address_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.address_id = u.id);
UPDATE addresses u
  LEFT JOIN addresses t ON t.chain = u.chain AND t.address = LOWER(u.address)
  SET u.address = LOWER(u.address)
  WHERE t.id IS NULL AND u.chain IN ('btc', 'ltc') AND u.address = UPPER(u.address) AND u.address <> LOWER(u.address)
  AND (u.address LIKE 'BC1%' OR u.address LIKE 'TB1%' OR u.address LIKE 'BCRT1%' OR u.address LIKE 'SB1%'
       OR u.address LIKE 'LTC1%' OR u.address LIKE 'TLTC1%' OR u.address LIKE 'RLTC1%');
