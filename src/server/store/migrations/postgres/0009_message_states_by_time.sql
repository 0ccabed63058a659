-- The Overview counts the messages that reached Sent, Delivered or Failed in its window
-- (GET /stats): a range read of each state's times instead of every state the user's messages had.
CREATE INDEX message_states_by_user_state_at ON message_states (user_id, state, at);
-- and the attempts in the window, read by the time they started (their delivery is then looked up)
CREATE INDEX device_attempts_by_start ON device_attempts (started_at);
