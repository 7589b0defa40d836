-- Retention deletes transactions by event time (--retain-transactions):
-- this index finds the oldest ones without reading the table.
CREATE INDEX transactions_event_time_idx ON transactions (event_time);
