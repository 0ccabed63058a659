-- The Overview reads one hour or one day of deliveries and attempts; without these it read every
-- delivery kept (with 100,000 rows, about 60 ms of SQL per view; 13 ms with them).
-- A delivery is indexed once when created and once when it finishes; deliveries in flight never
-- touch the finished index. Attempts rows are failures and retries only (0014), so theirs is small.
CREATE INDEX deliveries_by_created ON deliveries (created_at);
CREATE INDEX deliveries_finished_by_update ON deliveries (updated_at) WHERE state IN ('succeeded', 'failed', 'cancelled');
CREATE INDEX attempts_by_start ON attempts (started_at);
