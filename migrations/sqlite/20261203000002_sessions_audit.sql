-- Administration: an account an operator disabled cannot log in (403 ACCOUNT_DISABLED with the
-- right password) and its sessions were ended when it was disabled. SQLite keeps it as 0 or 1.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

-- The audit trail: every admin action and security event, written in batches by the audit
-- worker and pruned by it after AUDIT_RETENTION_DAYS. No foreign key to users: the trail of a
-- deleted account outlives it. Never a secret in it (no password, token, hash or cookie).
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    actor      TEXT NOT NULL,
    ip         TEXT,
    request_id TEXT
);

CREATE INDEX audit_events_user_id ON audit_events (user_id, id);
CREATE INDEX audit_events_at ON audit_events (at);
