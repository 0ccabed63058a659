-- The device's first schema: webhooks, the events and their deliveries with every attempt, messages.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE webhooks (
  source     TEXT NOT NULL CHECK (source IN ('Local', 'Cloud')),
  id         TEXT NOT NULL,
  url        TEXT NOT NULL,
  event      TEXT NOT NULL,
  device_id  TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (source, id)
);
CREATE INDEX webhooks_by_event ON webhooks (event);

-- One row per event the device emitted, whether or not any webhook wanted it.
CREATE TABLE events (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  event      TEXT NOT NULL,
  payload    TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- One row per (event, webhook). body is the exact JSON text that is signed and sent on every attempt.
CREATE TABLE deliveries (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  event_seq       INTEGER NOT NULL REFERENCES events (seq),
  event           TEXT NOT NULL,
  webhook_source  TEXT NOT NULL,
  webhook_id      TEXT NOT NULL,
  url             TEXT NOT NULL,
  body            TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'succeeded', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  -- attempts made before the last redeliver; the retry budget counts from here
  attempts_before_redeliver INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  last_status     INTEGER,
  last_error      TEXT
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX deliveries_by_state ON deliveries (state, seq);
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, seq);

CREATE TABLE attempts (
  seq              INTEGER PRIMARY KEY,
  delivery_seq     INTEGER NOT NULL REFERENCES deliveries (seq),
  number           INTEGER NOT NULL,
  started_at       INTEGER NOT NULL,
  duration_ms      INTEGER NOT NULL,
  status           INTEGER,
  error            TEXT,
  response_preview TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_seq, number);

CREATE TABLE messages (
  id                   TEXT PRIMARY KEY,
  source               TEXT NOT NULL CHECK (source IN ('Local', 'Cloud')),
  text                 TEXT NOT NULL,
  sim_number           INTEGER,
  with_delivery_report INTEGER NOT NULL,
  valid_until          INTEGER,
  state                TEXT NOT NULL,
  states               TEXT NOT NULL,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  -- Cloud messages: set when the server has acknowledged the latest state
  reported_at          INTEGER
);
CREATE INDEX messages_open ON messages (state) WHERE state IN ('Pending', 'Processed', 'Sent');

CREATE TABLE message_recipients (
  message_id   TEXT NOT NULL REFERENCES messages (id),
  position     INTEGER NOT NULL,
  phone_number TEXT NOT NULL,
  state        TEXT NOT NULL,
  error        TEXT,
  PRIMARY KEY (message_id, position)
);
