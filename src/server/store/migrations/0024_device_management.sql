-- Device management (SPEC section 7): what each player reports of itself,
-- its display power schedule, dynamic groups by rule, bulk actions, logs
-- collected from players, and the challenges of device recovery.

-- the player's inventory (model, OS, CPU, memory, disks, network,
-- displays), as it last reported it, and when
ALTER TABLE screens ADD COLUMN inventory TEXT NOT NULL DEFAULT '{}';
ALTER TABLE screens ADD COLUMN inventory_at INTEGER NOT NULL DEFAULT 0;
-- [{"days":[1..7],"on":"HH:MM","off":"HH:MM"}] in the player's local time;
-- [] = the display stays on
ALTER TABLE screens ADD COLUMN power_schedule TEXT NOT NULL DEFAULT '[]';

-- a group whose members are the screens its rule matches (mdm/rule.h)
CREATE TABLE screen_groups (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    rule        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    UNIQUE (account_id, name)
);

-- one action sent to many screens: each screen has its own instruction
-- (and acknowledgement in its history), tied to the batch
CREATE TABLE action_batches (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    target      TEXT NOT NULL,          -- JSON: {"rule"} | {"group_id"} | {"screen_ids"}
    screens     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX action_batches_account ON action_batches(account_id, created_at);
ALTER TABLE instructions ADD COLUMN batch_id TEXT;
CREATE INDEX instructions_batch ON instructions(batch_id) WHERE batch_id IS NOT NULL;

-- log archives a player uploaded (collect_logs); the bytes are in
-- DATA/logs/<screen id>/<id>.tar.gz
CREATE TABLE screen_logs (
    id              TEXT PRIMARY KEY,
    screen_id       TEXT NOT NULL REFERENCES screens(id) ON DELETE CASCADE,
    instruction_id  TEXT NOT NULL DEFAULT '',
    size            INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX screen_logs_screen ON screen_logs(screen_id, created_at);

-- single-use challenges a player signs with its pairing key to get a new
-- access token when its token file is damaged
CREATE TABLE device_challenges (
    challenge   TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);
