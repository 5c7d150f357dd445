-- Live chat proactive invitations (campaigns, issue 11): a rule (the page's
-- path and query match url_pattern, the visitor has been on it for
-- seconds_on_page) under which the widget invites the visitor to chat with
-- a department, and what came of each invitation, once per visitor.

CREATE TABLE chat_campaigns (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    site_id          TEXT NOT NULL REFERENCES chat_sites(id) ON DELETE CASCADE,
    department_id    TEXT NOT NULL REFERENCES chat_departments(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    url_pattern      TEXT NOT NULL,
    seconds_on_page  INTEGER NOT NULL,
    message          TEXT NOT NULL,
    enabled          INTEGER NOT NULL DEFAULT 1,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX chat_campaigns_site ON chat_campaigns(site_id);

-- outcome: shown, accepted or declined; one row each per visitor (a replay
-- counts once).
CREATE TABLE chat_campaign_outcomes (
    campaign_id  TEXT NOT NULL REFERENCES chat_campaigns(id) ON DELETE CASCADE,
    visitor_id   TEXT NOT NULL REFERENCES chat_visitors(id) ON DELETE CASCADE,
    outcome      TEXT NOT NULL CHECK (outcome IN ('shown', 'accepted', 'declined')),
    at           INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, visitor_id, outcome)
);
