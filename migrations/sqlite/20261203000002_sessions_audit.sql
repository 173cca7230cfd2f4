-- Administration: an account an operator disabled cannot log in (403 ACCOUNT_DISABLED with the
-- right password) and its sessions were ended when it was disabled. SQLite keeps it as 0 or 1.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
