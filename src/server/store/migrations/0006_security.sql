-- Hardening (issue 9): login failures may also be counted per known-client
-- cookie; retention of the audit log, instructions and proof of play.

-- consecutive failed logins per login name, source address, or known
-- client (the id of a vitrine_device cookie); transient, so rebuilt empty
DROP TABLE login_failures;
CREATE TABLE login_failures (
    kind          TEXT NOT NULL CHECK (kind IN ('login','ip','device')),
    subject       TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL,
    PRIMARY KEY (kind, subject)
);

-- The audit log stays append-only, except that the retention prune may
-- delete rows older than the cutoff it recorded first (audit_retention).
CREATE TABLE audit_retention (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    cutoff  INTEGER NOT NULL
);
INSERT INTO audit_retention(id, cutoff) VALUES(1, 0);
CREATE TRIGGER audit_retention_only_forward BEFORE UPDATE ON audit_retention
WHEN new.cutoff < old.cutoff OR new.cutoff > CAST(strftime('%s','now') AS INTEGER) - 86400
BEGIN SELECT RAISE(ABORT, 'the audit cutoff only moves forward and keeps at least a day'); END;
DROP TRIGGER audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
WHEN old.at >= (SELECT cutoff FROM audit_retention WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE INDEX audit_at ON audit(at);
-- REPLACE deletes the old row without firing DELETE triggers: refuse an
-- insert that would land on an existing entry (an auto-assigned seq is -1
-- here, so ordinary appends pass)
CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit
WHEN EXISTS (SELECT 1 FROM audit WHERE seq = new.seq OR id = new.id)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

CREATE INDEX instructions_created ON instructions(created_at);

-- proof of play older than the retention, as per-day counts
CREATE TABLE proof_of_play_daily (
    account_id  TEXT NOT NULL,
    screen_id   TEXT NOT NULL,
    day         INTEGER NOT NULL,              -- Unix time of 00:00 UTC
    channel_id  TEXT NOT NULL DEFAULT '',
    zone        TEXT NOT NULL DEFAULT '',
    item        TEXT NOT NULL DEFAULT '',
    sha256      TEXT NOT NULL DEFAULT '',
    plays       INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (account_id, screen_id, day, channel_id, zone, item, sha256)
);
CREATE INDEX proof_of_play_started ON proof_of_play(started_at);
