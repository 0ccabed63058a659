-- The server's tables, as in ../sqlite/0001_initial.sql: times are Unix milliseconds in BIGINT,
-- flags are BOOLEAN, and the key columns use the "C" collation so that ORDER BY on ids sorts byte
-- by byte, as SQLite does.

CREATE TABLE server_meta (
  key   TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE users (
  id            TEXT COLLATE "C" PRIMARY KEY,
  login         TEXT COLLATE "C" NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);

CREATE TABLE devices (
  id         TEXT COLLATE "C" PRIMARY KEY,
  user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
  name       TEXT NOT NULL,
  push_token TEXT,
  -- SHA-256 of the bearer token: the token itself is never stored
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL
);
CREATE INDEX devices_by_user ON devices (user_id, last_seen DESC);

CREATE TABLE webhooks (
  user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
  id         TEXT COLLATE "C" NOT NULL,
  url        TEXT NOT NULL,
  event      TEXT NOT NULL,
  device_id  TEXT COLLATE "C",
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, id)
);

CREATE TABLE messages (
  user_id              TEXT COLLATE "C" NOT NULL REFERENCES users (id),
  id                   TEXT COLLATE "C" NOT NULL,
  device_id            TEXT COLLATE "C" NOT NULL,
  text                 TEXT NOT NULL,
  sim_number           INTEGER,
  with_delivery_report BOOLEAN NOT NULL,
  is_encrypted         BOOLEAN NOT NULL,
  priority             INTEGER NOT NULL,
  valid_until          BIGINT,
  state                TEXT NOT NULL,
  -- STATE_RANK of state: the guard that keeps reports from moving a message backwards
  state_rank           SMALLINT NOT NULL,
  created_at           BIGINT NOT NULL,
  updated_at           BIGINT NOT NULL,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX messages_pending ON messages (device_id, created_at) WHERE state = 'Pending';
CREATE INDEX messages_by_user ON messages (user_id, created_at);
CREATE INDEX messages_by_device ON messages (device_id, id);

CREATE TABLE message_recipients (
  user_id      TEXT COLLATE "C" NOT NULL,
  message_id   TEXT COLLATE "C" NOT NULL,
  position     INTEGER NOT NULL,
  phone_number TEXT NOT NULL,
  state        TEXT NOT NULL,
  state_rank   SMALLINT NOT NULL,
  error        TEXT,
  PRIMARY KEY (user_id, message_id, position),
  FOREIGN KEY (user_id, message_id) REFERENCES messages (user_id, id) ON DELETE CASCADE
);

-- When each state was first reached; the earliest time reported for a state is kept.
CREATE TABLE message_states (
  user_id    TEXT COLLATE "C" NOT NULL,
  message_id TEXT COLLATE "C" NOT NULL,
  state      TEXT COLLATE "C" NOT NULL,
  at         BIGINT NOT NULL,
  PRIMARY KEY (user_id, message_id, state),
  FOREIGN KEY (user_id, message_id) REFERENCES messages (user_id, id) ON DELETE CASCADE
);

-- Only the keys a user set through the server (JSON text, nulls kept); defaults fill the rest.
CREATE TABLE user_settings (
  user_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id),
  document   TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
