-- What a send request may carry beyond a text: a data SMS (text holds its base64 bytes and
-- data_port the destination port), a time to hold it until (schedule_at, epoch ms) and whether text and numbers are encrypted
ALTER TABLE messages ADD COLUMN data_port INTEGER CHECK (data_port BETWEEN 0 AND 65535);
ALTER TABLE messages ADD COLUMN schedule_at INTEGER;
ALTER TABLE messages ADD COLUMN is_encrypted INTEGER NOT NULL DEFAULT 0;
