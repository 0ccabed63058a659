-- Migration 0018 took the lists of three or more constants out of the deliveries' CHECK and
-- partial indexes: SQLite builds a temporary b-tree of such a list each time a statement that
-- evaluates it runs. The same lists remained on the other tables written as the device works:
-- messages_open's WHERE (every message inserted, every change of its state, every message purged),
-- the inbox's type CHECK (every SMS received) and the log's priority CHECK (every line written).
-- The CHECKs become the same conditions as equalities joined by OR, which SQLite compares in place;
-- the index is replaced by a narrower one.

-- messages_open (Pending, Processed or Sent) served one query, the next message to finish: the one
-- in Processed. An index of that state alone serves it in the queue's order, holds a message only
-- while the carrier has it, and is not taken by the queries for Pending messages, which have their
-- own (messages_queue, messages_pending_expiry, messages_pending_schedule).
DROP INDEX messages_open;
CREATE INDEX messages_processed ON messages (priority DESC, created_at) WHERE state = 'Processed';

-- inbox: copied with its rows and seq, as migration 0018 copies the deliveries; its attachments are
-- first pointed at the copy.
CREATE TABLE inbox_next (
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  -- INCOMING_MESSAGE_TYPES (src/protocol/inbox.ts)
  type             TEXT NOT NULL CHECK (type = 'SMS' OR type = 'DATA_SMS' OR type = 'MMS' OR type = 'MMS_DOWNLOADED'),
  -- the payload's messageId (a content digest for SMS and data SMS, the MMS id for MMS)
  message_id       TEXT NOT NULL,
  sender           TEXT NOT NULL,
  recipient        TEXT,
  sim_number       INTEGER,
  -- SMS: the text; MMS_DOWNLOADED: the text parts
  text             TEXT,
  -- DATA_SMS: the bytes and the port they were sent to
  data             BLOB,
  port             INTEGER,
  transaction_id   TEXT,
  subject          TEXT,
  -- MMS: the size the notification announced, bytes
  size             INTEGER,
  content_class    TEXT,
  -- MMS: what is still to be downloaded (JSON), until MMS_DOWNLOADED is written
  pending_download TEXT,
  received_at      INTEGER NOT NULL,
  CHECK (type <> 'DATA_SMS' OR (data IS NOT NULL AND port BETWEEN 0 AND 65535)),
  CHECK (type NOT IN ('MMS', 'MMS_DOWNLOADED') OR transaction_id IS NOT NULL)
);
INSERT INTO inbox_next
  SELECT seq, id, type, message_id, sender, recipient, sim_number, text, data, port, transaction_id, subject, size,
         content_class, pending_download, received_at
    FROM inbox;
CREATE TABLE inbox_attachments_next (
  inbox_seq    INTEGER NOT NULL REFERENCES inbox_next (seq),
  part_id      INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  name         TEXT,
  data         BLOB NOT NULL,
  PRIMARY KEY (inbox_seq, part_id)
);
INSERT INTO inbox_attachments_next SELECT inbox_seq, part_id, content_type, name, data FROM inbox_attachments;
DROP TABLE inbox_attachments;
DROP TABLE inbox;
ALTER TABLE inbox_next RENAME TO inbox;
ALTER TABLE inbox_attachments_next RENAME TO inbox_attachments;
CREATE INDEX inbox_by_received ON inbox (received_at, seq);
CREATE INDEX inbox_pending_downloads ON inbox (seq) WHERE pending_download IS NOT NULL;

-- log_entries: copied with its ids; AUTOINCREMENT's high-water mark goes with it, so an id removed
-- by retention is never given again.
CREATE TABLE log_entries_next (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,
  -- LOG_PRIORITIES (src/device/store/logs.ts)
  priority   TEXT NOT NULL CHECK (priority = 'DEBUG' OR priority = 'INFO' OR priority = 'WARN' OR priority = 'ERROR'),
  module     TEXT NOT NULL,
  message    TEXT NOT NULL,
  context    TEXT
);
INSERT INTO log_entries_next SELECT id, created_at, priority, module, message, context FROM log_entries;
DELETE FROM sqlite_sequence WHERE name = 'log_entries_next';
UPDATE sqlite_sequence SET name = 'log_entries_next' WHERE name = 'log_entries';
DROP TABLE log_entries;
ALTER TABLE log_entries_next RENAME TO log_entries;
CREATE INDEX log_entries_by_time ON log_entries (created_at);
