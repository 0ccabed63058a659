-- Made by 0001 here already (SQLite gets it in this version): from now on both schemas have it.
CREATE INDEX IF NOT EXISTS messages_by_device ON messages (device_id, id);
