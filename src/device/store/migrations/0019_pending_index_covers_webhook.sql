-- A delivery's entry in deliveries_pending_by_webhook (by webhook_id) went in at its creation and
-- came out at its success, like those of the other pending indexes; but those are in seq order, so a
-- commit's deliveries share their pages, while by webhook they fall on one page per webhook: with 20
-- webhooks, about a fifteenth of the intake's and a sixth of the recording's SQLite time, this
-- change included (BENCHMARKS.md, Results, 2026-12-06 17:07). Only deleting or replacing a webhook
-- looked its pending deliveries up by webhook. It now walks the pending deliveries in seq order,
-- reading the webhook from this index without touching the rows of the others: a pass over the
-- pending backlog, once per webhook deleted, instead of a cost on every delivery.
DROP INDEX deliveries_pending_by_webhook;
DROP INDEX deliveries_pending;
CREATE INDEX deliveries_pending ON deliveries (seq, webhook_id) WHERE state = 'pending';
