-- Remote control (issue 10): the relays the connection manager may send a
-- session through, and the remote sessions it has handed out.

-- account_id NULL: a shared relay (registered by an admin of the server's
-- first account); otherwise a private relay of that account. token_hash:
-- SHA-256 of the relay token the relay reports its load with.
CREATE TABLE relays (
    id             TEXT PRIMARY KEY,
    account_id     TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    host           TEXT NOT NULL,
    port           INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    ws_url         TEXT NOT NULL,
    region         TEXT NOT NULL DEFAULT '',
    token_hash     TEXT NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    last_report    INTEGER NOT NULL DEFAULT 0,
    load_sessions  INTEGER NOT NULL DEFAULT 0,
    load_bytes     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX relays_account ON relays(account_id);

-- One row per session handed out. The relay and user are copied as text
-- (host, port, login) so the record outlives a deleted relay or user.
-- started_at, the byte counts and an end by the relay come from the relay
-- (not reported yet: they stay NULL / 0 until it does).
CREATE TABLE remote_sessions (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    screen_id            TEXT NOT NULL,
    user_id              TEXT NOT NULL,
    user_login           TEXT NOT NULL,
    relay_id             TEXT NOT NULL,
    relay_host           TEXT NOT NULL,
    relay_port           INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    started_at           INTEGER,
    ended_at             INTEGER,
    bytes_guest_to_host  INTEGER NOT NULL DEFAULT 0,
    bytes_host_to_guest  INTEGER NOT NULL DEFAULT 0,
    end_reason           TEXT
);
CREATE INDEX remote_sessions_account ON remote_sessions(account_id, created_at);
