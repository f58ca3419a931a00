-- callhook schema 9 (SQLite): the loss ledger's reasons and per-subscription limits (issue 15).
-- Why a dead delivery is dead: 'gave_up' (retries or a permanent answer, '' in rows
-- from before this version means the same), 'subscription_disabled' (its webhook was
-- disabled before it was sent), 'subscription_deleted' (its webhook was deleted: closed
-- at the delete). Empty for every other status.
ALTER TABLE deliveries ADD COLUMN dead_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_ledger ON deliveries (subscription_id, status, dead_reason);
-- Per-subscription delivery limits (docs/delivery.md, "Limits"): requests in flight at
-- once (0: only the endpoint's limit), requests per second and the token bucket's
-- burst (0: no rate limit / one second's worth).
ALTER TABLE subscriptions ADD COLUMN limit_concurrency INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN limit_rps REAL NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN limit_burst INTEGER NOT NULL DEFAULT 0;
