-- The retention purge (src/server/retention.ts) finds each user's expired rows by time through
-- these indexes, which hold only what it may remove: finished deliveries by when the server last
-- stored them, final messages by their last change.
CREATE INDEX device_deliveries_finished ON device_deliveries (user_id, reported_at) WHERE state <> 'pending';
CREATE INDEX messages_final ON messages (user_id, updated_at) WHERE state_rank = 3;
