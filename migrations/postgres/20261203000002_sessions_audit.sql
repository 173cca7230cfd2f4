-- Administration: an account an operator disabled cannot log in (403 ACCOUNT_DISABLED with the
-- right password) and its sessions were ended when it was disabled.
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
