-- device_deliveries_finished_by_update listed the three finished states. SQLite evaluates a list of
-- three or more constants by building a temporary b-tree of it each time a statement does: every
-- delivery an activity report saves paid for one. The server stores a delivery as pending or
-- finished, never `sending` (STORED_DELIVERY_STATES, src/protocol/deliveries.ts), so finished is
-- `state <> 'pending'`. Both databases take the same index, as STATS_SQL (queueMoves) is one text
-- for both and states it word for word.
DROP INDEX device_deliveries_finished_by_update;
CREATE INDEX device_deliveries_finished_by_update ON device_deliveries (user_id, updated_at) WHERE state <> 'pending';
