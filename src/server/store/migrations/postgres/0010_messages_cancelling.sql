-- The mobile pull hands a device its Cancelling messages too (a MessageCancelled push it missed is
-- made up for at its next pull): found through this index, which holds only those.
CREATE INDEX messages_cancelling ON messages (device_id, created_at) WHERE state = 'Cancelling';
