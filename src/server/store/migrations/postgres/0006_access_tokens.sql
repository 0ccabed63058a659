-- Access and refresh tokens (JWT): only their SHA-256 is kept. A family is every token issued from
-- one POST /auth/token by refreshing; one revoked token revokes its family.
CREATE TABLE access_tokens (
  id         TEXT COLLATE "C" PRIMARY KEY,
  user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  family_id  TEXT COLLATE "C" NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
  -- JSON array: the access token's scopes (a refresh token's: those of the tokens it renews)
  scopes     TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  spent_at   BIGINT,
  revoked_at BIGINT
);
CREATE INDEX access_tokens_by_family ON access_tokens (family_id);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id, expires_at);
