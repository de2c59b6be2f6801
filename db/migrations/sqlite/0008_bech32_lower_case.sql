-- ipnd ledger, schema version 8: bech32 addresses in lower case (see the
-- MySQL file of this version for why). upper lists the upper-case rows
-- that have a lower-case twin.
CREATE TEMP TABLE upper_twins AS
  SELECT u.id AS upper_id, t.id AS twin_id FROM addresses u
  JOIN addresses t ON t.chain = u.chain AND t.address = LOWER(u.address)
  WHERE u.id IN (SELECT id FROM addresses WHERE chain IN ('btc', 'ltc') AND address = UPPER(address) AND address <> LOWER(address)
  AND (address LIKE 'BC1%' OR address LIKE 'TB1%' OR address LIKE 'BCRT1%' OR address LIKE 'SB1%'
       OR address LIKE 'LTC1%' OR address LIKE 'TLTC1%' OR address LIKE 'RLTC1%'));
UPDATE deposits SET address_id = (SELECT twin_id FROM upper_twins WHERE upper_id = deposits.address_id)
  WHERE address_id IN (SELECT upper_id FROM upper_twins)
  AND NOT EXISTS (SELECT 1 FROM deposits x JOIN upper_twins w ON w.twin_id = x.address_id
    WHERE w.upper_id = deposits.address_id AND x.chain = deposits.chain AND x.txid = deposits.txid AND x.out_index = deposits.out_index);
UPDATE subscriptions SET address_id = (SELECT twin_id FROM upper_twins WHERE upper_id = subscriptions.address_id)
  WHERE address_id IN (SELECT upper_id FROM upper_twins)
  AND NOT EXISTS (SELECT 1 FROM subscriptions x JOIN upper_twins w ON w.twin_id = x.address_id
    WHERE w.upper_id = subscriptions.address_id AND x.url_hash = subscriptions.url_hash);
UPDATE invoices SET address_id = (SELECT twin_id FROM upper_twins WHERE upper_id = invoices.address_id)
  WHERE address_id IN (SELECT upper_id FROM upper_twins)
  AND NOT EXISTS (SELECT 1 FROM invoices x JOIN upper_twins w ON w.twin_id = x.address_id
    WHERE w.upper_id = invoices.address_id);
DELETE FROM addresses WHERE id IN (SELECT upper_id FROM upper_twins)
  AND NOT EXISTS (SELECT 1 FROM deposits d WHERE d.address_id = addresses.id)
  AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.address_id = addresses.id)
  AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.address_id = addresses.id);
UPDATE addresses SET address = LOWER(address)
  WHERE chain IN ('btc', 'ltc') AND address = UPPER(address) AND address <> LOWER(address)
  AND (address LIKE 'BC1%' OR address LIKE 'TB1%' OR address LIKE 'BCRT1%' OR address LIKE 'SB1%'
       OR address LIKE 'LTC1%' OR address LIKE 'TLTC1%' OR address LIKE 'RLTC1%')
  AND NOT EXISTS (SELECT 1 FROM addresses t WHERE t.chain = addresses.chain AND t.address = LOWER(addresses.address));
DROP TABLE upper_twins;
