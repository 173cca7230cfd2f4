-- Signing keys of access tokens. Times are Unix seconds. The private half is sealed (AEAD) under
-- a key derived from JWT_SECRET: a dump of this table alone cannot sign. The HS256 key has no
-- row material at all (it is JWT_SECRET); its row only records when it signed.
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    algorithm      TEXT NOT NULL,
    public_key     BYTEA NOT NULL,
    sealed_private BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    retired_at     BIGINT,
    verify_until   BIGINT
);

-- An install upgraded from a release before signing keys signed with JWT_SECRET (HS256, no
-- kid): record that key as current, so the tokens it signed keep verifying after a switch to
-- EdDSA until they expire. A fresh install (no users yet) never trusted it.
INSERT INTO signing_keys (kid, algorithm, public_key, sealed_private, created_at, activated_at)
SELECT 'hs256', 'HS256', ''::bytea, ''::bytea, extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint
WHERE EXISTS (SELECT 1 FROM users);
