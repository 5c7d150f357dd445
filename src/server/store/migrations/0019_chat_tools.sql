-- Live chat, the operator's tools (issue 11): predefined texts (typed as
-- /shortcut in the console), forms an operator pushes into a chat and the
-- visitor's answers to them. Times are Unix seconds.

-- A predefined text: for one department, or for all of the account's
-- (department_id NULL). Its text may hold links (shown as links, never as
-- HTML).
CREATE TABLE chat_canned (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    department_id  TEXT REFERENCES chat_departments(id) ON DELETE CASCADE,
    shortcut       TEXT NOT NULL,
    title          TEXT NOT NULL,
    text           TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX chat_canned_shortcut ON chat_canned(account_id, shortcut);

-- A form: its fields as JSON ([{"name","label","type","required","options"}]).
CREATE TABLE chat_forms (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    intro       TEXT NOT NULL DEFAULT '',
    fields      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX chat_forms_account ON chat_forms(account_id);

-- A form pushed into a chat: the form as it was when pushed (a later edit
-- of the form does not change what the visitor was asked), answered once.
CREATE TABLE chat_form_pushes (
    id           TEXT PRIMARY KEY,
    chat_id      TEXT NOT NULL REFERENCES chat_chats(id) ON DELETE CASCADE,
    form_id      TEXT REFERENCES chat_forms(id) ON DELETE SET NULL,
    form         TEXT NOT NULL,
    pushed_by    TEXT NOT NULL,
    pushed_at    INTEGER NOT NULL,
    answers      TEXT,
    answered_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX chat_form_pushes_chat ON chat_form_pushes(chat_id);
