-- The server's tables. Times are Unix milliseconds (INTEGER), flags 0 or 1 (INTEGER): see
-- ../postgres/0001_initial.sql for the same tables in PostgreSQL.

CREATE TABLE server_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  login         TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);

CREATE TABLE devices (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id),
  name       TEXT NOT NULL,
  push_token TEXT,
  -- SHA-256 of the bearer token: the token itself is never stored
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL
);
CREATE INDEX devices_by_user ON devices (user_id, last_seen DESC);

CREATE TABLE webhooks (
  user_id    TEXT NOT NULL REFERENCES users (id),
  id         TEXT NOT NULL,
  url        TEXT NOT NULL,
  event      TEXT NOT NULL,
  device_id  TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, id)
);

CREATE TABLE messages (
  user_id              TEXT NOT NULL REFERENCES users (id),
  id                   TEXT NOT NULL,
  device_id            TEXT NOT NULL,
  text                 TEXT NOT NULL,
  sim_number           INTEGER,
  with_delivery_report INTEGER NOT NULL,
  is_encrypted         INTEGER NOT NULL,
  priority             INTEGER NOT NULL,
  valid_until          INTEGER,
  state                TEXT NOT NULL,
  -- STATE_RANK of state: the guard that keeps reports from moving a message backwards
  state_rank           INTEGER NOT NULL,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX messages_pending ON messages (device_id, created_at) WHERE state = 'Pending';
CREATE INDEX messages_by_user ON messages (user_id, created_at);

CREATE TABLE message_recipients (
  user_id      TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  position     INTEGER NOT NULL,
  phone_number TEXT NOT NULL,
  state        TEXT NOT NULL,
  state_rank   INTEGER NOT NULL,
  error        TEXT,
  PRIMARY KEY (user_id, message_id, position),
  FOREIGN KEY (user_id, message_id) REFERENCES messages (user_id, id) ON DELETE CASCADE
);

-- When each state was first reached; the earliest time reported for a state is kept.
CREATE TABLE message_states (
  user_id    TEXT NOT NULL,
  message_id TEXT NOT NULL,
  state      TEXT NOT NULL,
  at         INTEGER NOT NULL,
  PRIMARY KEY (user_id, message_id, state),
  FOREIGN KEY (user_id, message_id) REFERENCES messages (user_id, id) ON DELETE CASCADE
);

-- Only the keys a user set through the server (JSON, nulls kept); defaults fill the rest.
CREATE TABLE user_settings (
  user_id    TEXT PRIMARY KEY REFERENCES users (id),
  document   TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
