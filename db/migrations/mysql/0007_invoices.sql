-- ipnd ledger, schema version 7: invoices (package invoice). An invoice
-- asks for an amount at one fresh address; its status and amounts are
-- recomputed in the chain write that changes the address's deposits and at
-- expires_at, and every change of status notifies its subscription.
CREATE TABLE invoices (
  id              BIGINT          NOT NULL AUTO_INCREMENT PRIMARY KEY,   -- internal: order of creation, list cursors
  public_id       VARCHAR(40)     COLLATE utf8mb4_bin NOT NULL,   -- inv_…: the id of the API and the checkout page
  chain           VARCHAR(8)      NOT NULL,
  address_id      BIGINT          NOT NULL,
  amount          BIGINT UNSIGNED NOT NULL,   -- asked for, atomic units
  max_confirms    INT             NOT NULL,   -- confirmations for a payment to count as paid
  created_at      BIGINT          NOT NULL,   -- the ledger's clock, as deposits' first_seen
  expires_at      BIGINT          NOT NULL,
  status          VARCHAR(16)     NOT NULL,   -- new, processing, paid, overpaid, underpaid, expired, late, reversed, cancelled
  paid            BIGINT UNSIGNED NOT NULL DEFAULT 0,   -- confirmed
  pending         BIGINT UNSIGNED NOT NULL DEFAULT 0,   -- live, not confirmed
  due             BIGINT UNSIGNED NOT NULL,
  excess          BIGINT UNSIGNED NOT NULL DEFAULT 0,
  description     VARCHAR(256)    NOT NULL DEFAULT '',
  metadata        TEXT            NULL,       -- the shop's JSON object, compact, at most 4 KB
  order_id        VARCHAR(128)    COLLATE utf8mb4_bin NULL,   -- the shop's id: one invoice per order
  subscription_id BIGINT          NULL,       -- its IPNs
  updated_at      BIGINT          NOT NULL,
  UNIQUE KEY invoices_public_id (public_id),
  UNIQUE KEY invoices_address (address_id),
  UNIQUE KEY invoices_order_id (order_id),
  KEY invoices_status_expiry (status, expires_at),
  KEY invoices_status_id (status, id),
  KEY invoices_subscription (subscription_id),
  CONSTRAINT invoices_address_fk FOREIGN KEY (address_id) REFERENCES addresses (id),
  CONSTRAINT invoices_subscription_fk FOREIGN KEY (subscription_id) REFERENCES subscriptions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
