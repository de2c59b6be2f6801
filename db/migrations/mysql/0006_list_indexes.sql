-- ipnd ledger, schema version 6: indexes of the list queries (GET
-- /addresses, /subscriptions, /notifications, the CLI and the console).
-- Addresses by label prefix.
ALTER TABLE addresses ADD KEY addresses_label (label);
-- Endpoints by URL prefix, in URL order (a prefix of the URL: MySQL indexes
-- at most 3072 bytes of a key).
ALTER TABLE endpoints ADD KEY endpoints_url_order (url(255));
-- An endpoint's active subscriptions, counted from the index alone (it
-- replaces the endpoint_id key, which the foreign key used; one statement).
ALTER TABLE subscriptions ADD KEY subscriptions_endpoint_active (endpoint_id, active), DROP KEY subscriptions_endpoint;
-- A subscription's newest notification (the failing filters, the lists'
-- delivery column) and the acknowledgements of the last hour.
ALTER TABLE notifications ADD KEY notifications_newest (subscription_id, id);
ALTER TABLE notifications ADD KEY notifications_delivered (state, delivered_at);
