-- Live chat for web sites (issue 11), the text core: sites and their
-- domains, visitors, departments and their operators, chats with their
-- per-chat event sequence, the operators' own event sequence, bans.
-- Times are Unix seconds unless a column says _ms.

-- A site: the domains its widget may run on. token_key signs its visitors'
-- tokens (HMAC-SHA256, hex); it never leaves the server.
CREATE TABLE chat_sites (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    domains     TEXT NOT NULL,  -- JSON array of "host" or "host:port"
    token_key   TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX chat_sites_account ON chat_sites(account_id);

CREATE TABLE chat_visitors (
    id          TEXT PRIMARY KEY,
    site_id     TEXT NOT NULL REFERENCES chat_sites(id) ON DELETE CASCADE,
    browser_id  TEXT NOT NULL DEFAULT '',
    ip          TEXT NOT NULL DEFAULT '',
    page_url    TEXT NOT NULL DEFAULT '',
    title       TEXT NOT NULL DEFAULT '',
    referrer    TEXT NOT NULL DEFAULT '',
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
CREATE INDEX chat_visitors_browser ON chat_visitors(site_id, browser_id);

CREATE TABLE chat_departments (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    auto_assign       INTEGER NOT NULL DEFAULT 0,
    reassign_after_s  INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
);
CREATE INDEX chat_departments_account ON chat_departments(account_id);

CREATE TABLE chat_department_sites (
    department_id  TEXT NOT NULL REFERENCES chat_departments(id) ON DELETE CASCADE,
    site_id        TEXT NOT NULL REFERENCES chat_sites(id) ON DELETE CASCADE,
    PRIMARY KEY (department_id, site_id)
);
CREATE INDEX chat_department_sites_site ON chat_department_sites(site_id);

CREATE TABLE chat_department_operators (
    department_id  TEXT NOT NULL REFERENCES chat_departments(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (department_id, user_id)
);
CREATE INDEX chat_department_operators_user ON chat_department_operators(user_id);

-- An operator's chat settings and state. last_seq: the newest event of
-- their own stream (chat_operator_events).
CREATE TABLE chat_operators (
    user_id     TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    capacity    INTEGER NOT NULL DEFAULT 3 CHECK (capacity BETWEEN 1 AND 50),
    status      TEXT NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'away', 'offline')),
    last_seq    INTEGER NOT NULL DEFAULT 0,
    last_assigned_ms INTEGER NOT NULL DEFAULT 0
);

-- state: queued (queue_key orders the department's FIFO queue; a requeued
-- chat gets a key before every other), active (operator_id set), ended.
-- waiting_since: the visitor's oldest message not answered by an operator
-- yet (0: none), for reassign_after_s.
CREATE TABLE chat_chats (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    site_id        TEXT NOT NULL REFERENCES chat_sites(id) ON DELETE CASCADE,
    department_id  TEXT NOT NULL REFERENCES chat_departments(id) ON DELETE CASCADE,
    visitor_id     TEXT NOT NULL REFERENCES chat_visitors(id) ON DELETE CASCADE,
    visitor_name   TEXT NOT NULL DEFAULT '',
    ip             TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL CHECK (state IN ('queued', 'active', 'ended')),
    queue_key      INTEGER NOT NULL,
    operator_id    TEXT REFERENCES users(id) ON DELETE SET NULL,
    prev_operator_id TEXT NOT NULL DEFAULT '',  -- the operator it was taken from last (requeue)
    position       INTEGER NOT NULL DEFAULT 0,  -- the position last told (0: not queued)
    last_seq       INTEGER NOT NULL DEFAULT 0,
    waiting_since  INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    assigned_at    INTEGER NOT NULL DEFAULT 0,
    ended_at       INTEGER NOT NULL DEFAULT 0,
    ended_by       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX chat_chats_queue ON chat_chats(department_id, state, queue_key);
CREATE INDEX chat_chats_operator ON chat_chats(operator_id, state);
CREATE INDEX chat_chats_visitor ON chat_chats(visitor_id, created_at);
CREATE INDEX chat_chats_account ON chat_chats(account_id, state, created_at);

-- What happened in a chat, numbered per chat: stored before it is
-- delivered; the visitor's stream resumes by seq. client_id makes a posted
-- message idempotent per sender.
CREATE TABLE chat_events (
    chat_id    TEXT NOT NULL REFERENCES chat_chats(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,  -- JSON
    sender     TEXT NOT NULL DEFAULT '',  -- 'visitor' or the operator's user id
    client_id  TEXT,
    at         INTEGER NOT NULL,
    PRIMARY KEY (chat_id, seq)
);
CREATE UNIQUE INDEX chat_events_client ON chat_events(chat_id, sender, client_id) WHERE client_id IS NOT NULL;

-- An operator's own stream, numbered per operator.
CREATE TABLE chat_operator_events (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    type     TEXT NOT NULL,
    data     TEXT NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
);

-- Typing marks: not part of any sequence, never resumed; kept a minute.
-- target: 'chat:<id>' (the visitor's stream) or 'op:<user id>'.
CREATE TABLE chat_typing (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    target  TEXT NOT NULL,
    data    TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX chat_typing_target ON chat_typing(target, id);

-- A ban: of a visitor id or of an IP address, until expires_at (0: never).
CREATE TABLE chat_bans (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    visitor_id  TEXT,
    ip          TEXT,
    reason      TEXT NOT NULL DEFAULT '',
    expires_at  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    CHECK ((visitor_id IS NULL) <> (ip IS NULL))
);
CREATE INDEX chat_bans_account ON chat_bans(account_id, expires_at);
