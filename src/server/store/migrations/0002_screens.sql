-- Screens (paired players), pairing requests (RFC 8628 device grant),
-- instructions to screens, and counters for rate limits.

-- a change counter per account: every change the console shows live takes
-- the next number, so a stream resumes exactly where it was
ALTER TABLE accounts ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE screens (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hardware_id  TEXT NOT NULL,
    public_key   TEXT NOT NULL,          -- Ed25519, base64; pinned for remote control
    token_hash   TEXT UNIQUE,            -- NULL until collected, and after revocation
    info         TEXT NOT NULL DEFAULT '{}',   -- model, os, version reported at pairing
    state        TEXT NOT NULL DEFAULT '{}',   -- the last heartbeat
    tags         TEXT NOT NULL DEFAULT '[]',
    group_name   TEXT NOT NULL DEFAULT '',
    last_seen    INTEGER NOT NULL DEFAULT 0,
    last_ip      TEXT NOT NULL DEFAULT '',
    next_seq     INTEGER NOT NULL DEFAULT 1,
    change_seq   INTEGER NOT NULL DEFAULT 0,
    screenshot_at INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    deleted_at   INTEGER
);
CREATE INDEX screens_account ON screens(account_id, change_seq);

CREATE TABLE pairings (
    device_code_hash  TEXT PRIMARY KEY,
    user_code         TEXT NOT NULL UNIQUE,
    hardware_id       TEXT NOT NULL,
    public_key        TEXT NOT NULL,
    info              TEXT NOT NULL DEFAULT '{}',
    ip                TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    poll_interval     INTEGER NOT NULL,
    last_poll         INTEGER NOT NULL DEFAULT 0,
    screen_id         TEXT REFERENCES screens(id) ON DELETE CASCADE
);

CREATE TABLE instructions (
    id           TEXT PRIMARY KEY,
    screen_id    TEXT NOT NULL REFERENCES screens(id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    expires_at   INTEGER NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending','delivered','ok','failed')),
    deliveries   INTEGER NOT NULL DEFAULT 0,
    delivered_at INTEGER,
    acked_at     INTEGER,
    result       TEXT NOT NULL DEFAULT '{}',
    UNIQUE (screen_id, seq)
);

-- fixed-window counters for rate limits (pairing guesses, pairing requests)
CREATE TABLE rate_counters (
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    count         INTEGER NOT NULL,
    window_start  INTEGER NOT NULL,
    PRIMARY KEY (kind, subject)
);
