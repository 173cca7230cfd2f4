-- The account lifecycle, in SQLite's types: the same tables as PostgreSQL's (see there).
-- Foreign keys are enforced (sqlx turns `foreign_keys` on for every connection).

ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

CREATE TABLE account_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('reset', 'verify')),
    email       TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE UNIQUE INDEX account_tokens_hash_key ON account_tokens (token_hash);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY,
    user_id          TEXT REFERENCES users (id) ON DELETE CASCADE,
    token_id         TEXT REFERENCES account_tokens (id) ON DELETE CASCADE,
    recipient        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    detail           TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    given_up_at      INTEGER
);

CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE given_up_at IS NULL;
CREATE INDEX mail_outbox_user_idx ON mail_outbox (user_id);
CREATE INDEX mail_outbox_token_idx ON mail_outbox (token_id);
