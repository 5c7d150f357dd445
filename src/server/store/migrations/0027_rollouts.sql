-- Rollouts of signed releases (SPEC section 7): a release sent to the
-- screens of a target in phases (1 % -> 10 % -> 100 %), pausing itself when
-- the failures of a phase pass a threshold, inside maintenance windows.

-- a group's maintenance window: when rollouts to it may send updates, as
-- periods [{days, on, off}] in UTC (common/power_schedule.h); [] = any time
ALTER TABLE screen_groups ADD COLUMN maintenance_window TEXT NOT NULL DEFAULT '[]';

CREATE TABLE rollouts (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    release_id         TEXT NOT NULL REFERENCES releases(id),
    target             TEXT NOT NULL,     -- JSON: {"group_id"} | {"rule"} | {"screen_ids"}
    phases             TEXT NOT NULL,     -- JSON: cumulative percentages, e.g. [1, 10, 100]
    failure_threshold  INTEGER NOT NULL,  -- percent of a phase's screens that may fail
    health_s           INTEGER NOT NULL,  -- the players' health-check window
    rollback           INTEGER NOT NULL DEFAULT 0, -- an admin allows an older version
    maintenance_window TEXT NOT NULL DEFAULT '[]',
    state              TEXT NOT NULL CHECK (state IN ('running','paused','cancelled','done')),
    phase              INTEGER NOT NULL DEFAULT 0,
    accepted_failures  INTEGER NOT NULL DEFAULT 0, -- failures of the phase an admin resumed past
    reason             TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    created_by         TEXT NOT NULL DEFAULT '',
    updated_at         INTEGER NOT NULL
);
CREATE INDEX rollouts_account ON rollouts(account_id, created_at);
CREATE INDEX rollouts_running ON rollouts(state) WHERE state = 'running';

-- one row per screen of a rollout: its phase and the last step it reported
CREATE TABLE rollout_screens (
    rollout_id      TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    screen_id       TEXT NOT NULL REFERENCES screens(id) ON DELETE CASCADE,
    phase           INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'waiting',
    detail          TEXT NOT NULL DEFAULT '',
    instruction_id  TEXT NOT NULL DEFAULT '',
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (rollout_id, screen_id)
);
CREATE INDEX rollout_screens_phase ON rollout_screens(rollout_id, phase, status);
