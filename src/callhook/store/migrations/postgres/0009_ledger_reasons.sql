-- callhook schema 9 (PostgreSQL): the loss ledger's reasons (issue 15).
-- Why a dead delivery is dead: 'gave_up' (retries or a permanent answer, '' in rows
-- from before this version means the same), 'subscription_disabled' (its webhook was
-- disabled before it was sent), 'subscription_deleted' (its webhook was deleted: closed
-- at the delete). Empty for every other status.
ALTER TABLE deliveries ADD COLUMN dead_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_ledger ON deliveries (subscription_id, status, dead_reason);
