-- callhook schema 9 (PostgreSQL): the loss ledger's reasons, per-subscription limits and the reporting tables (issue 15).
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
ALTER TABLE subscriptions ADD COLUMN limit_rps DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN limit_burst INTEGER NOT NULL DEFAULT 0;
-- Reporting (docs/reporting.md): call records and queue visits as plain rows, filled
-- in the same commit as the events they come from. Times are Unix seconds.
CREATE TABLE report_calls (
    event_id    TEXT PRIMARY KEY,        -- the call.record event
    tenant      TEXT NOT NULL,
    call_id     TEXT NOT NULL,           -- the call key (Asterisk's Linkedid)
    start_at    DOUBLE PRECISION NOT NULL,
    answer_at   DOUBLE PRECISION,                      -- NULL: nobody answered
    end_at      DOUBLE PRECISION NOT NULL,
    duration    BIGINT NOT NULL,             -- seconds, start to end
    billsec     BIGINT NOT NULL,             -- seconds, answer to end
    disposition TEXT NOT NULL,           -- ANSWERED, NO ANSWER, BUSY, FAILED
    answered_by TEXT NOT NULL,           -- the extension that answered, '' if none
    source      TEXT NOT NULL,           -- the CDR's source number
    destination TEXT NOT NULL,           -- the CDR's destination
    caller_num  TEXT NOT NULL,
    called_num  TEXT NOT NULL,
    direction   TEXT NOT NULL            -- in, out, local ('' when unknown)
);
CREATE INDEX report_calls_start ON report_calls (tenant, start_at);
CREATE TABLE report_queue_visits (
    tenant    TEXT NOT NULL,
    call_id   TEXT NOT NULL,
    queue     TEXT NOT NULL,
    joined_at DOUBLE PRECISION NOT NULL,
    wait      DOUBLE PRECISION,                        -- seconds in the queue before an agent answered (NULL: not answered)
    talk      DOUBLE PRECISION,                        -- seconds with the agent (set when an answered visit left)
    abandoned BIGINT NOT NULL DEFAULT 0,     -- 1: the caller hung up before being answered
    PRIMARY KEY (call_id, queue)
);
CREATE INDEX report_queue_visits_joined ON report_queue_visits (tenant, queue, joined_at);
