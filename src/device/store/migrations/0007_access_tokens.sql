-- The Local API's access and refresh tokens (JWT), as the server keeps them: only their
-- SHA-256; one revoked token revokes its family (every token refreshed from the same grant)
CREATE TABLE access_tokens (
  id         TEXT PRIMARY KEY,
  subject    TEXT NOT NULL,
  family_id  TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
  scopes     TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  spent_at   INTEGER,
  revoked_at INTEGER
);
CREATE INDEX access_tokens_by_family ON access_tokens (family_id);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);
