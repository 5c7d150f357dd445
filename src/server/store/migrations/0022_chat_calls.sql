-- Live chat audio and video calls (issue 11): what each department allows,
-- the operator's switch in one chat, and the calls themselves (WebRTC in
-- the browsers; the server keeps their state for the signalling checks).

-- 'off', 'audio' (audio calls only) or 'video' (audio or video).
ALTER TABLE chat_departments ADD COLUMN calls TEXT NOT NULL DEFAULT 'video';
-- 1: the operator switched calls off in this chat.
ALTER TABLE chat_chats ADD COLUMN calls_off INTEGER NOT NULL DEFAULT 0;

-- A call: ringing (invited), active (accepted), ended (end_reason:
-- declined, visitor, operator, chat_ended, transferred, requeued, disabled).
-- id is the caller's call_id.
CREATE TABLE chat_calls (
    id           TEXT PRIMARY KEY,
    chat_id      TEXT NOT NULL REFERENCES chat_chats(id) ON DELETE CASCADE,
    media        TEXT NOT NULL,
    started_by   TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    answered_at  INTEGER NOT NULL DEFAULT 0,
    ended_at     INTEGER NOT NULL DEFAULT 0,
    end_reason   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX chat_calls_chat ON chat_calls(chat_id, state);
