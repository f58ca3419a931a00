-- callhook schema 4 (sqlite): API tokens managed through the API, and the audit log.
-- A token is stored as the SHA-256 of its value (it is 32 random bytes, so a fast
-- hash suffices), and the value itself is shown once, at creation.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,          -- tok_<hex>, the token's name in the API
    name        TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    read_only   INTEGER NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,      -- hex SHA-256 of the token
    prefix      TEXT NOT NULL,             -- its first characters, to recognise it
    created_at  REAL NOT NULL,               -- Unix seconds
    created_by  TEXT NOT NULL,
    expires_at  REAL,                        -- NULL: never
    revoked_at  REAL                         -- NULL: not revoked
);
-- Who changed what, when: one row per accepted change made through the API.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      REAL NOT NULL,                   -- Unix seconds
    actor   TEXT NOT NULL,                 -- "admin", "token tok_..", "tenant acme (configured token)"
    tenant  TEXT NOT NULL,                 -- the actor's tenant, empty for the admin
    action  TEXT NOT NULL,                 -- "POST /api/v1/webhooks"
    target  TEXT NOT NULL,                 -- the object, when the path names one
    status  INTEGER NOT NULL               -- the answer's HTTP status
);
CREATE INDEX audit_log_tenant ON audit_log (tenant, id);
