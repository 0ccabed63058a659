-- The send queue: a message's priority orders it, and the time it was handed to the carrier
-- counts it against messages.limit_value
ALTER TABLE messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN processed_at INTEGER;
CREATE INDEX messages_queue ON messages (priority, created_at) WHERE state IN ('Pending', 'Processed');
CREATE INDEX messages_processed_at ON messages (processed_at) WHERE processed_at IS NOT NULL;
