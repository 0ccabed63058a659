-- A device's state report (PATCH /mobile/v1/message) finds its message by (device_id, id); without
-- this index every report read the whole messages table. PostgreSQL has had it since 0001.
CREATE INDEX messages_by_device ON messages (device_id, id);
