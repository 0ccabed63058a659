-- Reads made after every message that goes out: the send queue expires the waiting messages
-- whose validUntil has passed, and a linked device reads its Cloud messages not yet reported to the
-- server. Each finds a few rows, but without these indexes each walked every waiting message (the
-- first) or every message ever kept (the second), so a long queue or a long history made every
-- message cost more.
CREATE INDEX messages_pending_expiry ON messages (valid_until) WHERE state = 'Pending' AND valid_until IS NOT NULL;
CREATE INDEX messages_unreported ON messages (updated_at) WHERE source = 'Cloud' AND reported_at IS NULL;
-- ... and, when nothing is due, when the next scheduled message is (scheduleAt).
CREATE INDEX messages_pending_schedule ON messages (schedule_at) WHERE state = 'Pending' AND schedule_at IS NOT NULL;
