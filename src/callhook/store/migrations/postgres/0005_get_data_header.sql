-- callhook schema 5 (PostgreSQL): Telphin's GET data in a request header (seed 004).
-- The header that carries a GET's urlencoded form instead of the query string (empty: the query string).
ALTER TABLE subscriptions ADD COLUMN get_data_header TEXT NOT NULL DEFAULT '';
