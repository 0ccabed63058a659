import type Database from 'better-sqlite3';
import { openMigratedSqlite } from '../../shared/sqlite.ts';

export type SqliteDb = Database.Database;

/**
 * Versioned migrations of the server database; index + 1 is the schema version
 * (PRAGMA user_version). Append only: a released migration is never edited.
 * Times are Unix milliseconds (INTEGER here, BIGINT in PostgreSQL).
 */
export const SQLITE_MIGRATIONS: string[] = [
  `
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

  -- When each state was first reached; the first report of a state wins.
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
  `,
  // 2: the health document each device reports (PUT /mobile/v1/device/health), shown with the device
  `
  ALTER TABLE devices ADD COLUMN health TEXT;
  ALTER TABLE devices ADD COLUMN health_reported_at INTEGER;
  `,
  // 3: what devices report of their webhook activity (POST /mobile/v1/device/activity): their
  // deliveries and attempts (a copy: the device delivers), and each device's Local webhook list
  `
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
  `,
];

/**
 * Open (or create) the server's SQLite file at the current schema. WAL lets the `users` admin
 * command write while a server runs on the same file.
 */
export function openSqlite(file: string): SqliteDb {
  return openMigratedSqlite(file, SQLITE_MIGRATIONS, 'server');
}
