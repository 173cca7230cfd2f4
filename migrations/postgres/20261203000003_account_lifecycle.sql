-- The account lifecycle: verified emails, single-use tokens for a password reset or an email
-- verification (stored only as hashes), and the mail outbox the mail worker drains.

ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false;

-- Security: `token_hash` is SHA-256 of the token the mail carries; the token itself is never
-- stored (the mail worker derives it from `id` with a key of the service secret's). `email` is
-- the address the token was sent to: the one a verification proves, or the one a reset was
-- asked for. Times are Unix milliseconds, the same on both engines.
CREATE TABLE account_tokens (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('reset', 'verify')),
    email       TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE UNIQUE INDEX account_tokens_hash_key ON account_tokens (token_hash);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- Mail waiting to go out, written in the same transaction as the token it carries. A row is
-- claimed by pushing `next_attempt_at` past a lease, deleted once sent, and kept with
-- `given_up_at` set when the attempts run out. A user's queued mail goes with the user, and a
-- token's with the token (a newer request voids the older mail too).
CREATE TABLE mail_outbox (
    id               UUID PRIMARY KEY,
    user_id          UUID REFERENCES users (id) ON DELETE CASCADE,
    token_id         UUID REFERENCES account_tokens (id) ON DELETE CASCADE,
    recipient        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    detail           TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    given_up_at      BIGINT
);

CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE given_up_at IS NULL;
CREATE INDEX mail_outbox_user_idx ON mail_outbox (user_id);
CREATE INDEX mail_outbox_token_idx ON mail_outbox (token_id);
