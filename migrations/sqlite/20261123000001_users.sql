-- Users, in the embedded SQLite database: the same table as PostgreSQL's, in SQLite's types.
-- Usernames are ASCII (see Username::parse), so NOCASE folds them exactly as lower() does in
-- PostgreSQL; emails are stored lower-cased by the service.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL COLLATE NOCASE,
    email         TEXT,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (email) WHERE email IS NOT NULL;
