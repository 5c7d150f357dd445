-- Remote control, continued (issue 10): screens that ask the person in
-- front of them before a session starts, the state of that question in the
-- session, and which screens each support user may control.

-- 1: a remote session of this screen starts only when the person at the
-- screen accepts it on the kiosk page.
ALTER TABLE screens ADD COLUMN remote_consent INTEGER NOT NULL DEFAULT 0;

-- consent: 'none' (the screen does not ask), 'waiting' (asked, until
-- consent_until), 'accepted', 'refused', 'timeout'. issued_at: when the
-- tickets were signed (NULL while waiting, and for a refused or timed-out
-- session, which never gets any).
ALTER TABLE remote_sessions ADD COLUMN consent TEXT NOT NULL DEFAULT 'none'
    CHECK (consent IN ('none', 'waiting', 'accepted', 'refused', 'timeout'));
ALTER TABLE remote_sessions ADD COLUMN consent_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remote_sessions ADD COLUMN issued_at INTEGER;
UPDATE remote_sessions SET issued_at = created_at;
CREATE INDEX remote_sessions_screen ON remote_sessions(screen_id, created_at);

-- A support user may control a screen when it is listed here for them
-- (kind 'screen', value: the screen id) or carries one of their tags (kind
-- 'tag', value: the tag). Admins control every screen of their account and
-- need no rows.
CREATE TABLE remote_grants (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL CHECK (kind IN ('screen', 'tag')),
    value    TEXT NOT NULL,
    PRIMARY KEY (user_id, kind, value)
);
