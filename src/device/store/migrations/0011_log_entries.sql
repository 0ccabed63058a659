-- The device's own log (GET /logs): what it did, kept logs.lifetime_days
CREATE TABLE log_entries (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,
  priority   TEXT NOT NULL CHECK (priority IN ('DEBUG', 'INFO', 'WARN', 'ERROR')),
  module     TEXT NOT NULL,
  message    TEXT NOT NULL,
  context    TEXT
);
CREATE INDEX log_entries_by_time ON log_entries (created_at);
