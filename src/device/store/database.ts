import type Database from 'better-sqlite3';
import { openMigratedSqlite } from '../../shared/sqlite.ts';

export type Db = Database.Database;

/**
 * Versioned migrations; the index + 1 is the schema version (PRAGMA user_version).
 * Append only: a released migration is never edited.
 */
export const MIGRATIONS: readonly string[] = [
  `
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
  `,
  // 2: claims live in memory (no row write per claim); the state index becomes two partial ones,
  // so a delivery that succeeds at once touches one index entry instead of four
  `
  DROP INDEX deliveries_by_state;
  CREATE INDEX deliveries_pending ON deliveries (seq) WHERE state = 'pending';
  CREATE INDEX deliveries_failed ON deliveries (seq) WHERE state = 'failed';
  `,
  // 3: GET /messages lists a source's messages by creation time
  `
  CREATE INDEX messages_by_source_created ON messages (source, created_at);
  `,
  // 4: the inbox: every message the phone received (SMS, data SMS, MMS notifications and downloaded MMS)
  `
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
  `,
  // 5: the retention purge deletes an event once none of its deliveries is left; the foreign key
  // check of that delete, and the purge's own, find an event's deliveries through this index
  `
  CREATE INDEX deliveries_by_event ON deliveries (event_seq);
  `,
  // 6: a delivery whose webhook was deleted or replaced ends 'cancelled'. SQLite cannot change a
  // CHECK in place: both tables are copied (attempts first pointed at the copy, so that dropping the
  // old deliveries leaves no row behind that refers to it), then renamed back, which also renames
  // the reference.
  `
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
  `,
  // 7: the Local API's access and refresh tokens (JWT), as the server keeps them: only their
  // SHA-256; one revoked token revokes its family (every token refreshed from the same grant)
  `
  CREATE TABLE access_tokens (
    id         TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    family_id  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    scopes     TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER,
    revoked_at INTEGER
  );
  CREATE INDEX access_tokens_by_family ON access_tokens (family_id);
  CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);
  `,
  // 8: the send queue: a message's priority orders it, and the time it was handed to the carrier
  // counts it against messages.limit_value
  `
  ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN processed_at INTEGER;
  CREATE INDEX messages_queue ON messages (priority, created_at) WHERE state IN ('Pending', 'Processed');
  CREATE INDEX messages_processed_at ON messages (processed_at) WHERE processed_at IS NOT NULL;
  `,
  // 9: what a send request may carry beyond a text: a data SMS (text holds its base64 bytes and
  // data_port the destination port), a time to hold it until (schedule_at, epoch ms) and whether text and numbers are encrypted
  `
  ALTER TABLE messages ADD COLUMN data_port INTEGER CHECK (data_port BETWEEN 0 AND 65535);
  ALTER TABLE messages ADD COLUMN schedule_at INTEGER;
  ALTER TABLE messages ADD COLUMN is_encrypted INTEGER NOT NULL DEFAULT 0;
  `,
  // 10: the Overview's messages chart reads the messages that changed in its window (GET /stats)
  `
  CREATE INDEX messages_by_updated ON messages (updated_at);
  `,
  // 11: the device's own log (GET /logs): what it did, kept logs.lifetime_days
  `
  CREATE TABLE log_entries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    priority   TEXT NOT NULL CHECK (priority IN ('DEBUG', 'INFO', 'WARN', 'ERROR')),
    module     TEXT NOT NULL,
    message    TEXT NOT NULL,
    context    TEXT
  );
  CREATE INDEX log_entries_by_time ON log_entries (created_at);
  `,
];

/** Open (or create) the device database at the current schema. */
export function openDatabase(file: string): Db {
  return openMigratedSqlite(file, MIGRATIONS, 'device');
}
