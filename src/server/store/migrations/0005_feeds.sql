-- RSS/Atom feeds used by channel items, fetched by the server and cached
-- (content/feeds.c). items is a JSON array of {title, summary, link,
-- published}; the last good items stay when a fetch fails (error says why).
-- fetched_at is the last attempt, items_at when the items last changed.
CREATE TABLE feeds (
	url TEXT PRIMARY KEY,
	fetched_at INTEGER NOT NULL DEFAULT 0,
	items_at INTEGER NOT NULL DEFAULT 0,
	ok INTEGER NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT '',
	items TEXT NOT NULL DEFAULT '[]',
	etag TEXT NOT NULL DEFAULT '',
	last_modified TEXT NOT NULL DEFAULT ''
);
