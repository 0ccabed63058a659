-- A delivery whose webhook was deleted or replaced ends 'cancelled'. SQLite cannot change a
-- CHECK in place: both tables are copied (attempts first pointed at the copy, so that dropping the
-- old deliveries leaves no row behind that refers to it), then renamed back, which also renames
-- the reference.
CREATE TABLE deliveries_next (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  event_seq       INTEGER NOT NULL REFERENCES events (seq),
  event           TEXT NOT NULL,
  webhook_source  TEXT NOT NULL,
  webhook_id      TEXT NOT NULL,
  url             TEXT NOT NULL,
  body            TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'succeeded', 'failed', 'cancelled')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  attempts_before_redeliver INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  last_status     INTEGER,
  last_error      TEXT
);
INSERT INTO deliveries_next SELECT * FROM deliveries;
CREATE TABLE attempts_next (
  seq              INTEGER PRIMARY KEY,
  delivery_seq     INTEGER NOT NULL REFERENCES deliveries_next (seq),
  number           INTEGER NOT NULL,
  started_at       INTEGER NOT NULL,
  duration_ms      INTEGER NOT NULL,
  status           INTEGER,
  error            TEXT,
  response_preview TEXT
);
INSERT INTO attempts_next SELECT * FROM attempts;
DROP TABLE attempts;
DROP TABLE deliveries;
ALTER TABLE deliveries_next RENAME TO deliveries;
ALTER TABLE attempts_next RENAME TO attempts;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, seq);
CREATE INDEX deliveries_pending ON deliveries (seq) WHERE state = 'pending';
CREATE INDEX deliveries_failed ON deliveries (seq) WHERE state = 'failed';
CREATE INDEX deliveries_cancelled ON deliveries (seq) WHERE state = 'cancelled';
CREATE INDEX deliveries_by_event ON deliveries (event_seq);
CREATE INDEX attempts_by_delivery ON attempts (delivery_seq, number);
