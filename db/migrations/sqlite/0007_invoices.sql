-- ipnd ledger, schema version 7: invoices (see the MySQL migration).
CREATE TABLE invoices (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  public_id       VARCHAR(40)     NOT NULL,
  chain           VARCHAR(8)      NOT NULL,
  address_id      BIGINT          NOT NULL REFERENCES addresses (id),
  amount          BIGINT          NOT NULL,
  max_confirms    INT             NOT NULL,
  created_at      BIGINT          NOT NULL,
  expires_at      BIGINT          NOT NULL,
  status          VARCHAR(16)     NOT NULL,
  paid            BIGINT          NOT NULL DEFAULT 0,
  pending         BIGINT          NOT NULL DEFAULT 0,
  due             BIGINT          NOT NULL,
  excess          BIGINT          NOT NULL DEFAULT 0,
  description     VARCHAR(256)    NOT NULL DEFAULT '',
  metadata        TEXT            NULL,
  order_id        VARCHAR(128)    NULL,
  subscription_id BIGINT          NULL REFERENCES subscriptions (id),
  updated_at      BIGINT          NOT NULL,
  CONSTRAINT invoices_public_id UNIQUE (public_id),
  CONSTRAINT invoices_address UNIQUE (address_id),
  CONSTRAINT invoices_order_id UNIQUE (order_id)
);
CREATE INDEX invoices_status_expiry ON invoices (status, expires_at);
CREATE INDEX invoices_status_id ON invoices (status, id);
CREATE INDEX invoices_subscription ON invoices (subscription_id);
