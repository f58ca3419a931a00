-- callhook schema 7 (sqlite): state every process behind a load balancer shares.
-- Dashboard browser sessions: the cookie's value is kept as its SHA-256 only.
CREATE TABLE dashboard_sessions (
    token_hash  TEXT PRIMARY KEY,          -- hex SHA-256 of the cookie's value
    csrf        TEXT NOT NULL,             -- the value the page sends back in X-Callhook-CSRF
    tenant      TEXT,                      -- NULL: the admin
    read_only   INTEGER NOT NULL,
    token_id    TEXT NOT NULL,             -- the API token signed in with ('' for a configured one)
    actor       TEXT NOT NULL,
    name        TEXT NOT NULL,             -- the name shown on call-back marks
    created_at  REAL NOT NULL, -- Unix seconds
    seen_at     REAL NOT NULL  -- the last request (written at most once a minute)
);
CREATE INDEX dashboard_sessions_token ON dashboard_sessions (token_id);
CREATE INDEX dashboard_sessions_seen ON dashboard_sessions (seen_at);
-- One-time sign-in codes (the /s/CODE links): deleted when used, so a code works once.
CREATE TABLE signin_codes (
    code_hash   TEXT PRIMARY KEY,          -- hex SHA-256 of the code
    tenant      TEXT,                      -- NULL: the admin
    name        TEXT NOT NULL,
    expires_at  REAL NOT NULL  -- Unix seconds
);
-- The directory as edited through the API: every edit is a new version (the whole
-- directory as JSON), and the newest is the one in force on every process.
CREATE TABLE directory_versions (
    scope       TEXT NOT NULL,             -- '' for the directory of --directory
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,             -- JSON, shaped like a directory file
    created_at  REAL NOT NULL, -- Unix seconds
    actor       TEXT NOT NULL,             -- who made the edit
    PRIMARY KEY (scope, version)
);
