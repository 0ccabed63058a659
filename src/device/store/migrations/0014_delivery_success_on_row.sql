-- A delivery's successful attempt is kept on the delivery's own row, not as a row of attempts: a
-- delivery that succeeds, the common case, then writes one row instead of two (an attempt row and
-- its index entry cost about a quarter of recording a result). Failed attempts are rows of attempts
-- as before. Deliveries that succeeded before this migration keep their success in attempts, and
-- these columns stay NULL on them.
ALTER TABLE deliveries ADD COLUMN success_started_at INTEGER;
ALTER TABLE deliveries ADD COLUMN success_duration_ms INTEGER;
ALTER TABLE deliveries ADD COLUMN success_response_preview TEXT;
