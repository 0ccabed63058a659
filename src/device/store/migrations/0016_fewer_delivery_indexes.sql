-- Every index on deliveries is written when a delivery is created, again when it finishes, and
-- again when the retention purge deletes it. Three of them served reads that are rare next to
-- those writes, and cost about a tenth of the intake and a third of the purge per delivery
-- (BENCHMARKS.md, Results, 2026-12-05 19:24):
-- * deliveries_by_webhook held every delivery kept; only deleting or replacing a webhook needs its
--   deliveries by webhook, and only the pending ones, which this smaller index holds. The list
--   filtered by webhook walks by seq, newest first, as the list filtered by event already does.
-- * deliveries_by_created and deliveries_finished_by_update served the Overview's windows. Seq
--   follows creation, so the Overview now reads a range of seq found through the primary key
--   (store/stats.ts), and only deliveries that took more than ten minutes to finish (retried,
--   redelivered or cancelled late) are indexed by when they finished. The ten minutes are repeated
--   in stats.ts (LATE_FINISH_MS), which must match this condition for SQLite to use the index.
DROP INDEX deliveries_by_webhook;
DROP INDEX deliveries_by_created;
DROP INDEX deliveries_finished_by_update;
CREATE INDEX deliveries_pending_by_webhook ON deliveries (webhook_id) WHERE state = 'pending';
CREATE INDEX deliveries_finished_late ON deliveries (updated_at)
  WHERE state IN ('succeeded', 'failed', 'cancelled') AND updated_at - created_at > 600000;
