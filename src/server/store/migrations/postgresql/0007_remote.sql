-- PostgreSQL's side of 0007: the insertion order SQLite keeps as rowid
-- (sessions started in the same second are listed newest first by it).

ALTER TABLE remote_sessions ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
