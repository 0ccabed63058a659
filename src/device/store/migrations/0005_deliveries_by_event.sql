-- The retention purge deletes an event once none of its deliveries is left; the foreign key
-- check of that delete, and the purge's own, find an event's deliveries through this index
CREATE INDEX deliveries_by_event ON deliveries (event_seq);
