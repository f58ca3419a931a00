-- callhook schema 8 (PostgreSQL): number masking, list filters, the template dialect, signing-key rotation.
-- masking: JSON {"fields": [...], "mode": "last_digits"|"hash", "keep": N, "key": "<sealed>"}, NULL: none.
ALTER TABLE subscriptions ADD COLUMN masking TEXT;
-- filters_more: JSON of the list filters (queues, extensions, agents, numbers, number_prefixes, directions, tenants).
ALTER TABLE subscriptions ADD COLUMN filters_more TEXT;
-- template: JSON {"method", "url", "headers", "body"} of the template dialect, NULL for the others.
ALTER TABLE subscriptions ADD COLUMN template TEXT;
-- the secret before the last rotation (sealed like the secret) and the unix time it stops signing.
ALTER TABLE subscriptions ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN previous_secret_until DOUBLE PRECISION;
