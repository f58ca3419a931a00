-- callhook schema 10: a subscription's ordering: 'arrival' (deliveries one after the other
-- in acceptance order, across calls, the default) or 'call' (calls in parallel).
ALTER TABLE subscriptions ADD COLUMN ordering TEXT NOT NULL DEFAULT 'arrival';
