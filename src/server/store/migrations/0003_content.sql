-- Signage content: the media library (content-addressed objects), channels
-- (layouts of zones with playlists), editors' grants, schedules, per-screen
-- manifests and proof of play.

ALTER TABLE accounts ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 10737418240;

-- one row per account and object; the bytes live once in media/ab/<sha256>
CREATE TABLE media (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mime        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('image','video','html')),
    filename    TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, sha256)
);
CREATE INDEX media_sha256 ON media(sha256);

CREATE TABLE channels (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,             -- normalised channel JSON (layout, zones, items)
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX channels_account ON channels(account_id);

-- which media a channel uses (a medium in use cannot be deleted)
CREATE TABLE channel_media (
    channel_id  TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    PRIMARY KEY (channel_id, sha256)
);
CREATE INDEX channel_media_sha ON channel_media(account_id, sha256);

-- an editor may change only the zones granted ('*' = every zone)
CREATE TABLE editor_grants (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel_id  TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    zone        TEXT NOT NULL,
    PRIMARY KEY (user_id, channel_id, zone)
);

CREATE TABLE schedules (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    target      TEXT NOT NULL,             -- 'screen:<id>' or 'group:<name>'
    channel_id  TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    days        TEXT NOT NULL DEFAULT '1234567',  -- ISO weekdays
    start_min   INTEGER NOT NULL DEFAULT 0,       -- minutes after midnight
    end_min     INTEGER NOT NULL DEFAULT 1440,
    from_date   TEXT NOT NULL DEFAULT '',         -- YYYY-MM-DD or ''
    until_date  TEXT NOT NULL DEFAULT '',
    priority    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX schedules_account ON schedules(account_id);

ALTER TABLE screens ADD COLUMN channel_id TEXT;
ALTER TABLE screens ADD COLUMN play_now_channel TEXT;
ALTER TABLE screens ADD COLUMN play_now_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE screens ADD COLUMN manifest_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE screens ADD COLUMN manifest_hash TEXT NOT NULL DEFAULT '';

CREATE TABLE proof_of_play (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL,
    screen_id   TEXT NOT NULL,
    channel_id  TEXT NOT NULL DEFAULT '',
    zone        TEXT NOT NULL DEFAULT '',
    item        TEXT NOT NULL DEFAULT '',
    sha256      TEXT NOT NULL DEFAULT '',
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX proof_of_play_screen ON proof_of_play(account_id, screen_id, started_at);
