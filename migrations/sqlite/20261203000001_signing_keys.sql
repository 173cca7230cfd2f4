-- Signing keys of access tokens: the same table as PostgreSQL's, in SQLite's types. Times are
-- Unix seconds; the private half is sealed under a key derived from JWT_SECRET.
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    algorithm      TEXT NOT NULL,
    public_key     BLOB NOT NULL,
    sealed_private BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    activated_at   INTEGER,
    retired_at     INTEGER,
    verify_until   INTEGER
);

-- An upgraded install signed with JWT_SECRET (HS256, no kid) until now: see the PostgreSQL
-- migration.
INSERT INTO signing_keys (kid, algorithm, public_key, sealed_private, created_at, activated_at)
SELECT 'hs256', 'HS256', x'', x'', CAST(strftime('%s', 'now') AS INTEGER), CAST(strftime('%s', 'now') AS INTEGER)
WHERE EXISTS (SELECT 1 FROM users);
