-- callhook schema 3: a subscription's own retry settings, as JSON (schedule,
-- client_error_attempts, lifetimes), NULL for the installation's policy.
ALTER TABLE subscriptions ADD COLUMN retry TEXT;
