-- callhook schema 2 (PostgreSQL): missed callers handled by hand (the dashboard's "done").
-- One row per (tenant, number): the missed calls of that number up to `at` need no call-back.
CREATE TABLE missed_marks (
    tenant TEXT NOT NULL,
    number TEXT NOT NULL,
    at     DOUBLE PRECISION NOT NULL, -- Unix seconds
    done_by TEXT NOT NULL,            -- who marked it (a name, never a token)
    PRIMARY KEY (tenant, number)
);
