-- The hawkBit DDI device API (issue 12, src/server/updates/ddi.c): the
-- numeric action ids hawkBit clients expect (random, 1 to 2^31 - 1), one
-- per screen of a rollout that was offered to it through DDI, and the SHA-1 and MD5 of release
-- files that DDI's artifacts list (computed once, on first use; '' until
-- then).

CREATE TABLE ddi_actions (
    id          INTEGER PRIMARY KEY,
    rollout_id  TEXT NOT NULL,
    screen_id   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (rollout_id, screen_id),
    FOREIGN KEY (rollout_id, screen_id) REFERENCES rollout_screens(rollout_id, screen_id) ON DELETE CASCADE
);

ALTER TABLE releases ADD COLUMN sha1 TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN md5 TEXT NOT NULL DEFAULT '';
