-- Data SMS: `text` holds the base64 bytes and data_port the destination port (NULL for a text).
-- schedule_at: the message is held on the device until then (epoch ms; NULL: at once).
-- is_hashed: the content and recipients were replaced by their hashes once the message was final.
ALTER TABLE messages ADD COLUMN data_port INTEGER CHECK (data_port BETWEEN 0 AND 65535);
ALTER TABLE messages ADD COLUMN schedule_at INTEGER;
ALTER TABLE messages ADD COLUMN is_hashed INTEGER NOT NULL DEFAULT 0;
