-- Window metrics per currency as well: revenue is never summed across
-- currencies. The rows are rebuilt from the stored transactions (every
-- window row comes from them), so history gets its currencies too.
ALTER TABLE window_metrics ADD COLUMN currency text NOT NULL DEFAULT '';
ALTER TABLE window_metrics DROP CONSTRAINT window_metrics_pkey;
DELETE FROM window_metrics;
INSERT INTO window_metrics (granularity, window_start, channel, payment_method, currency, tx_count, revenue_cents, alert_count)
SELECT g.granularity, date_trunc(g.granularity, t.event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start,
       t.channel, t.payment_method, t.currency, count(*), sum(t.total_cents),
       count(*) FILTER (WHERE t.decision NOT IN ('', 'approve'))
FROM transactions t CROSS JOIN (VALUES ('minute'), ('hour')) AS g(granularity)
GROUP BY g.granularity, start, t.channel, t.payment_method, t.currency;
ALTER TABLE window_metrics ALTER COLUMN currency DROP DEFAULT;
ALTER TABLE window_metrics ADD PRIMARY KEY (granularity, window_start, channel, payment_method, currency);
