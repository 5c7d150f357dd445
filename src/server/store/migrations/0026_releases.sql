-- Signed releases (issue 12, over-the-air updates): the Ed25519 keys an
-- account trusts to sign releases (besides the server's own release key,
-- which is always trusted and lives in DATA/keys/, not here), and the
-- releases uploaded, each with its detached signature file.

CREATE TABLE release_keys (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    public_key  TEXT NOT NULL,             -- base64 of the 32-byte Ed25519 public key
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    UNIQUE (account_id, public_key)
);

-- The bytes live once in releases/<sha256>, whatever the number of rows
-- that link them. version_key is the version as four nine-digit parts
-- (src/common/release.h): it sorts numerically, and 1.4 and 1.4.0 are the
-- same release. key_id is the release_keys row that signed it, or
-- 'server' for the server's own key; key_name and public_key are copied,
-- so a release still says who signed it once that key is removed (and is
-- then no longer served to screens). signature: the signature file as
-- uploaded, byte for byte.
CREATE TABLE releases (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    version_key  TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 1),
    key_id       TEXT NOT NULL,
    key_name     TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    signature    TEXT NOT NULL,
    filename     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    UNIQUE (account_id, name, version_key)
);
CREATE INDEX releases_sha256 ON releases(sha256);
