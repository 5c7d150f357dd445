-- Sync groups (screens/sync_groups.c): screens on one LAN that play in
-- step. A group has a name, its members (each with a number the players
-- elect their leader by: the lowest number alive leads) and a secret
-- 32-byte key that only its members get, in their manifests; the key is
-- drawn again whenever the members change. A screen is in at most one
-- group. Each member row also keeps what its player last reported of the
-- group in a heartbeat (its "sync" object).

CREATE TABLE sync_groups (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    secret      TEXT NOT NULL,          -- the key: 64 lower-case hex digits; never shown to users
    created_at  INTEGER NOT NULL,       -- also the group's epoch (the manifest's epoch_ms)
    created_by  TEXT NOT NULL DEFAULT '',
    updated_at  INTEGER NOT NULL
);
CREATE INDEX sync_groups_account ON sync_groups(account_id);

CREATE TABLE sync_group_members (
    group_id    TEXT NOT NULL REFERENCES sync_groups(id) ON DELETE CASCADE,
    screen_id   TEXT NOT NULL UNIQUE REFERENCES screens(id) ON DELETE CASCADE,
    member      INTEGER NOT NULL CHECK (member >= 1),
    joined_at   INTEGER NOT NULL,
    -- the player's last report of this group (NULL: none since it joined);
    -- offset and delay in microseconds, exact in both backends
    state       TEXT CHECK (state IN ('leader', 'member', 'alone', 'locking')),
    offset_us   INTEGER,
    delay_us    INTEGER,
    peers       INTEGER,
    reported_at INTEGER,
    PRIMARY KEY (group_id, member)
);
