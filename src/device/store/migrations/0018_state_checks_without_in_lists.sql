-- Every INSERT of a delivery, and every UPDATE of its state, evaluates the table's CHECK on state
-- and the WHERE of each partial index. SQLite evaluates `x IN (a, b, c)` over three or more
-- constants by building a temporary b-tree of them each time the statement runs; over one or two
-- it compares. The state CHECK (five states) and deliveries_finished_late (three) therefore built
-- two such trees for each delivery written and two more for each result recorded: about a sixth of
-- the intake's and a fifth of the recording's SQLite time (BENCHMARKS.md, Results, 2026-12-06 17:07).
-- The same conditions, without a list of three: the CHECK as equalities joined by OR, the index on
-- the two states a finished delivery is not in. The table keeps its columns, rows and seq; it is
-- copied as in migration 0017 (attempts first pointed at the copy), about a second per 200,000
-- deliveries kept, once.
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
  -- DELIVERY_STATES (src/protocol/deliveries.ts)
  state           TEXT NOT NULL CHECK (state = 'pending' OR state = 'sending' OR state = 'succeeded' OR state = 'failed'
                                      OR state = 'cancelled'),
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
INSERT INTO deliveries_next
  SELECT seq, id, event_id, event, webhook_source, webhook_id, url, body, state, attempts, attempts_before_redeliver,
         next_attempt_at, created_at, updated_at, last_status, last_error, success_started_at, success_duration_ms,
         success_response_preview
    FROM deliveries;
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
INSERT INTO attempts_next SELECT seq, delivery_seq, number, started_at, duration_ms, status, error, response_preview FROM attempts;
DROP TABLE attempts;
DROP TABLE deliveries;
ALTER TABLE deliveries_next RENAME TO deliveries;
ALTER TABLE attempts_next RENAME TO attempts;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX deliveries_pending ON deliveries (seq) WHERE state = 'pending';
CREATE INDEX deliveries_failed ON deliveries (seq) WHERE state = 'failed';
CREATE INDEX deliveries_cancelled ON deliveries (seq) WHERE state = 'cancelled';
CREATE INDEX deliveries_pending_by_webhook ON deliveries (webhook_id) WHERE state = 'pending';
-- FINISHED_LATE in store/stats.ts states this condition word for word, or SQLite will not use the index
CREATE INDEX deliveries_finished_late ON deliveries (updated_at)
  WHERE state NOT IN ('pending', 'sending') AND updated_at - created_at > 600000;
CREATE INDEX attempts_by_delivery ON attempts (delivery_seq, number);
CREATE INDEX attempts_by_start ON attempts (started_at);
