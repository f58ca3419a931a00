-- callhook schema 1 (SQLite). Times are Unix seconds (REAL).
CREATE TABLE events (
    id         TEXT PRIMARY KEY,          -- ULID: unique and time-sortable
    type       TEXT NOT NULL,
    ts         REAL NOT NULL,             -- PBX time of the fact
    tenant     TEXT NOT NULL,
    call_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    body       BLOB NOT NULL,             -- JSON of serialize.event_to_dict
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX events_tenant ON events (tenant, id);
CREATE INDEX events_type ON events (type, id);
CREATE INDEX events_call ON events (call_id, seq);

CREATE TABLE subscriptions (
    id                 TEXT PRIMARY KEY,
    tenant             TEXT NOT NULL,
    url                TEXT NOT NULL,
    dialect            TEXT NOT NULL,
    method             TEXT NOT NULL,
    events             TEXT NOT NULL,     -- JSON array of event types
    url_template       TEXT NOT NULL,
    auth_username      TEXT,
    auth_password      TEXT,
    headers            TEXT NOT NULL,     -- JSON object
    secret             TEXT NOT NULL,
    filter_queue       TEXT NOT NULL,
    filter_extension   TEXT NOT NULL,
    filter_agent       TEXT NOT NULL,
    enabled            INTEGER NOT NULL,
    description        TEXT NOT NULL,
    telphin_client     TEXT NOT NULL,
    telphin_agent_type TEXT NOT NULL,
    telphin_agent_id   TEXT NOT NULL,
    created_at         REAL NOT NULL,
    updated_at         REAL NOT NULL
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant, id);

-- The outbox. Per (subscription_id, order_key) group only the head (head = 1, the
-- oldest pending/inflight row) may be claimed.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    order_key       TEXT NOT NULL,
    status          TEXT NOT NULL,        -- pending | inflight | done | dead | expired
    head            INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         REAL NOT NULL,
    expires_at      REAL,
    lease_id        TEXT,
    lease_until     REAL,
    method          TEXT NOT NULL,
    url             TEXT NOT NULL,
    headers         TEXT NOT NULL,        -- JSON array of [name, value]
    body            BLOB NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    last_status     INTEGER,
    created_at      REAL NOT NULL,
    finished_at     REAL,
    replay_of       INTEGER
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE status = 'pending' AND head = 1;
CREATE INDEX deliveries_group ON deliveries (subscription_id, order_key, id) WHERE status IN ('pending', 'inflight');
CREATE INDEX deliveries_lease ON deliveries (lease_until) WHERE status = 'inflight';
CREATE INDEX deliveries_sub ON deliveries (subscription_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_failed ON deliveries (status, id) WHERE status IN ('dead', 'expired');

CREATE TABLE attempts (
    id              INTEGER PRIMARY KEY,
    delivery_id     INTEGER NOT NULL,
    subscription_id TEXT NOT NULL,
    at              REAL NOT NULL,
    method          TEXT NOT NULL,
    url             TEXT NOT NULL,        -- credentials removed
    headers         TEXT NOT NULL,        -- secrets redacted
    status          INTEGER,              -- NULL: no HTTP response
    body            BLOB NOT NULL,        -- response body, capped
    duration_ms     REAL NOT NULL,
    error           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);
CREATE INDEX attempts_sub ON attempts (subscription_id, at);
