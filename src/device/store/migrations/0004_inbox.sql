-- The inbox: every message the phone received (SMS, data SMS, MMS notifications and downloaded MMS)
CREATE TABLE inbox (
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  type             TEXT NOT NULL CHECK (type IN ('SMS', 'DATA_SMS', 'MMS', 'MMS_DOWNLOADED')),
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
CREATE INDEX inbox_by_received ON inbox (received_at, seq);
CREATE INDEX inbox_pending_downloads ON inbox (seq) WHERE pending_download IS NOT NULL;

CREATE TABLE inbox_attachments (
  inbox_seq    INTEGER NOT NULL REFERENCES inbox (seq),
  part_id      INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  name         TEXT,
  data         BLOB NOT NULL,
  PRIMARY KEY (inbox_seq, part_id)
);
