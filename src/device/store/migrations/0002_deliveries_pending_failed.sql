-- Claims live in memory (no row write per claim); the state index becomes two partial ones,
-- so a delivery that succeeds at once touches one index entry instead of four
DROP INDEX deliveries_by_state;
CREATE INDEX deliveries_pending ON deliveries (seq) WHERE state = 'pending';
CREATE INDEX deliveries_failed ON deliveries (seq) WHERE state = 'failed';
