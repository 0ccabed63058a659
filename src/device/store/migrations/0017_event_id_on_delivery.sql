-- A delivery carries its event's id, and the events table goes. Nothing read an event's row but its
-- id, yet every event wrote one (with its unique index on id), every delivery an entry in
-- deliveries_by_event and a foreign key check, and the retention purge deleted all three again and
-- looked for events left with no delivery. The payload is in each delivery's body already; an event
-- that no webhook wanted leaves no row, as it left none anyone read.
-- SQLite cannot drop a column with a foreign key in place: deliveries and attempts are copied, as
-- in migration 0006 (attempts first pointed at the copy), and renamed back. On a device that keeps
-- a large webhook log this copy runs once, at the first start after the upgrade (about a second per
-- 200,000 deliveries on a 2-core machine).
CREATE TABLE deliveries_next (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  -- the event's id, the same on each of its deliveries
  event_id        TEXT NOT NULL,
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
  last_error      TEXT,
  success_started_at       INTEGER,
  success_duration_ms      INTEGER,
  success_response_preview TEXT
);
-- Foreign keys were on, so every delivery has its event; the outer join keeps a delivery even were
-- it not so, with its own id standing for the event's.
INSERT INTO deliveries_next
  SELECT d.seq, d.id, coalesce(e.id, d.id), d.event, d.webhook_source, d.webhook_id, d.url, d.body, d.state, d.attempts,
         d.attempts_before_redeliver, d.next_attempt_at, d.created_at, d.updated_at, d.last_status, d.last_error,
         d.success_started_at, d.success_duration_ms, d.success_response_preview
    FROM deliveries d LEFT JOIN events e ON e.seq = d.event_seq;
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
DROP TABLE events;
ALTER TABLE deliveries_next RENAME TO deliveries;
ALTER TABLE attempts_next RENAME TO attempts;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX deliveries_pending ON deliveries (seq) WHERE state = 'pending';
CREATE INDEX deliveries_failed ON deliveries (seq) WHERE state = 'failed';
CREATE INDEX deliveries_cancelled ON deliveries (seq) WHERE state = 'cancelled';
CREATE INDEX deliveries_pending_by_webhook ON deliveries (webhook_id) WHERE state = 'pending';
CREATE INDEX deliveries_finished_late ON deliveries (updated_at)
  WHERE state IN ('succeeded', 'failed', 'cancelled') AND updated_at - created_at > 600000;
CREATE INDEX attempts_by_delivery ON attempts (delivery_seq, number);
CREATE INDEX attempts_by_start ON attempts (started_at);
