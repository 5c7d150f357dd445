-- Accounts (tenants), users, sessions, API tokens, login throttling,
-- allowlists and the append-only audit log. Times are Unix seconds.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id                    TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    login                 TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name                  TEXT NOT NULL DEFAULT '',
    role                  TEXT NOT NULL CHECK (role IN ('admin','editor','operator','support')),
    password_hash         TEXT NOT NULL,
    must_change_password  INTEGER NOT NULL DEFAULT 0,
    disabled              INTEGER NOT NULL DEFAULT 0,
    totp_secret           TEXT,
    totp_enabled          INTEGER NOT NULL DEFAULT 0,
    totp_last_step        INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX users_account ON users(account_id);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_used   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- consecutive failed logins, counted per login name and per source address
CREATE TABLE login_failures (
    kind          TEXT NOT NULL CHECK (kind IN ('login','ip')),
    subject       TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL,
    PRIMARY KEY (kind, subject)
);

-- proof-of-work challenges already answered (replay protection until expiry)
CREATE TABLE used_challenges (
    nonce_id    TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE allowlist (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    scope       TEXT NOT NULL CHECK (scope IN ('console','operator')),
    cidr        TEXT NOT NULL,
    PRIMARY KEY (account_id, scope, cidr)
);

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    account_id  TEXT,
    at          INTEGER NOT NULL,
    actor_id    TEXT,
    actor       TEXT NOT NULL,
    ip          TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_account ON audit(account_id, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
