-- The send queue takes its next message by walking an index in its order instead of sorting every
-- waiting message each time (a backlog of N cost N log N per message sent, so a long queue drained
-- ever slower): LIFO walks messages_queue backwards; FIFO, highest priority then oldest, walks this.
CREATE INDEX messages_queue_fifo ON messages (priority DESC, created_at) WHERE state IN ('Pending', 'Processed');
