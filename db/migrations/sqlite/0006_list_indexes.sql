-- ipnd ledger, schema version 6: indexes of the list queries (see the
-- MySQL file).
CREATE INDEX addresses_label ON addresses (label);
CREATE INDEX endpoints_url_order ON endpoints (url);
CREATE INDEX subscriptions_endpoint_active ON subscriptions (endpoint_id, active);
DROP INDEX subscriptions_endpoint;
CREATE INDEX notifications_newest ON notifications (subscription_id, id);
CREATE INDEX notifications_delivered ON notifications (state, delivered_at);
