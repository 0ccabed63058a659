-- What devices report of their webhook activity (POST /mobile/v1/device/activity): their
-- deliveries and attempts (a copy: the device delivers), and each device's Local webhook list.

ALTER TABLE devices ADD COLUMN local_webhooks TEXT;
ALTER TABLE devices ADD COLUMN local_webhooks_reported_at INTEGER;

CREATE TABLE device_deliveries (
  -- the order the server first heard of them: the list's keyset cursor
  seq             INTEGER PRIMARY KEY,
  device_id       TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  id              TEXT NOT NULL,
  user_id         TEXT NOT NULL,
  event_id        TEXT NOT NULL,
  event           TEXT NOT NULL,
  webhook_source  TEXT NOT NULL,
  webhook_id      TEXT NOT NULL,
  url             TEXT NOT NULL,
  state           TEXT NOT NULL,
  -- (attempts, updated_at) is the version on the device: a report never replaces a newer one
  attempts        INTEGER NOT NULL,
  next_attempt_at INTEGER,
  last_status     INTEGER,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  reported_at     INTEGER NOT NULL,
  UNIQUE (device_id, id)
);
CREATE INDEX device_deliveries_by_user ON device_deliveries (user_id, seq);
CREATE INDEX device_deliveries_by_user_id ON device_deliveries (user_id, id);
CREATE INDEX device_deliveries_by_device ON device_deliveries (device_id, seq);

CREATE TABLE device_attempts (
  device_id        TEXT NOT NULL,
  delivery_id      TEXT NOT NULL,
  number           INTEGER NOT NULL,
  started_at       INTEGER NOT NULL,
  duration_ms      INTEGER NOT NULL,
  status           INTEGER,
  error            TEXT,
  response_preview TEXT,
  outcome          TEXT NOT NULL,
  PRIMARY KEY (device_id, delivery_id, number),
  FOREIGN KEY (device_id, delivery_id) REFERENCES device_deliveries (device_id, id) ON DELETE CASCADE
);
