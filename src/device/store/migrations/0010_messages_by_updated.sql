-- The Overview's messages chart reads the messages that changed in its window (GET /stats)
CREATE INDEX messages_by_updated ON messages (updated_at);
