-- The alert queue's customer filter (GET /api/v1/alerts?customer=, the
-- dashboard's customer page) walks one customer's alerts newest first.
-- A customer's transactions need no new index: transactions_customer_idx
-- (customer_id, event_time) serves their history.
CREATE INDEX alerts_customer_id_idx ON alerts (customer_id, id);
