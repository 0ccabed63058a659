-- GET /messages lists a source's messages by creation time
CREATE INDEX messages_by_source_created ON messages (source, created_at);
