-- Remote control, the relay <-> server link: what the relay reports of a
-- session, and the admin ends it is told about.
-- cut_seq: set (from one rising sequence) when an admin ends a session;
--   the relay's long-poll GET /api/v1/relays/{id}/cuts?after=SEQ reads the
--   ends after the last one it has seen.
-- relay_ended_at: when the relay reported the session's end (its "ended"
--   event), so a report sent twice is recorded once.
ALTER TABLE remote_sessions ADD COLUMN cut_seq INTEGER;
ALTER TABLE remote_sessions ADD COLUMN relay_ended_at INTEGER;
CREATE INDEX remote_sessions_cuts ON remote_sessions(relay_id, cut_seq) WHERE cut_seq IS NOT NULL;
