-- Outgoing e-mail (src/server/mail) and the live chat's uses of it (issue
-- 11): transcripts a visitor asks for, and messages visitors leave while no
-- operator of the department is online. Times are Unix seconds.

-- A mail waits here from the transaction that caused it until the SMTP
-- server took it (sent_at) or the last try failed (failed_at). message is
-- the whole RFC 5322 text; kind and ref say what it is about (e.g.
-- "chat_transcript" and the chat's id).
CREATE TABLE mail_outbox (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    ref         TEXT NOT NULL DEFAULT '',
    to_addr     TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    sent_at     INTEGER NOT NULL DEFAULT 0,
    failed_at   INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_due ON mail_outbox(sent_at, failed_at, next_at);
CREATE INDEX mail_outbox_ref ON mail_outbox(kind, ref, created_at);

-- Where a department's offline messages are mailed ('' = kept in the
-- console only).
ALTER TABLE chat_departments ADD COLUMN offline_email TEXT NOT NULL DEFAULT '';

-- A message left through the widget's offline form.
CREATE TABLE chat_offline_messages (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    site_id        TEXT NOT NULL REFERENCES chat_sites(id) ON DELETE CASCADE,
    department_id  TEXT REFERENCES chat_departments(id) ON DELETE SET NULL,
    visitor_id     TEXT NOT NULL,
    name           TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL,
    text           TEXT NOT NULL,
    page_url       TEXT NOT NULL DEFAULT '',
    ip             TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    mail_id        TEXT NOT NULL DEFAULT '',
    handled_at     INTEGER NOT NULL DEFAULT 0,
    handled_by     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX chat_offline_messages_account ON chat_offline_messages(account_id, created_at);
