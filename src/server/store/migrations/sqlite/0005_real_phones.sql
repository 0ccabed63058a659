-- What real phones need. connected_at: when the device first used its token (a message without a
-- deviceId goes only to devices that have connected); sim_cards: the SIM cards the phone reported
-- (JSON). registration_codes: one-time codes a user gets to register a phone (GET /mobile/v1/user/code).

ALTER TABLE devices ADD COLUMN connected_at INTEGER;
ALTER TABLE devices ADD COLUMN sim_cards TEXT;
UPDATE devices SET connected_at = last_seen WHERE last_seen > created_at;

CREATE TABLE registration_codes (
  code        TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL REFERENCES users (id),
  valid_until INTEGER NOT NULL
);

-- The pull hands out the most urgent first (priority), then in the order the device asks for:
-- oldest first (fifo) from the first index, newest first (lifo) by reading the second backwards.
DROP INDEX messages_pending;
CREATE INDEX messages_pending_fifo ON messages (device_id, priority DESC, created_at, id) WHERE state = 'Pending';
CREATE INDEX messages_pending_lifo ON messages (device_id, priority, created_at, id) WHERE state = 'Pending';
