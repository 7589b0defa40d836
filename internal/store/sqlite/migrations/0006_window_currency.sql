-- Window metrics per currency as well: revenue is never summed across
-- currencies. The rows are rebuilt from the stored transactions (every
-- window row comes from them), so history gets its currencies too.
CREATE TABLE window_metrics_new (
    granularity    TEXT NOT NULL,
    window_start   INTEGER NOT NULL,
    channel        TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    currency       TEXT NOT NULL,
    tx_count       INTEGER NOT NULL,
    revenue_cents  INTEGER NOT NULL,
    alert_count    INTEGER NOT NULL,
    PRIMARY KEY (granularity, window_start, channel, payment_method, currency)
) WITHOUT ROWID;
INSERT INTO window_metrics_new (granularity, window_start, channel, payment_method, currency, tx_count, revenue_cents, alert_count)
SELECT g.granularity, t.event_time / g.unit * g.unit AS start, t.channel, t.payment_method, t.currency,
       count(*), sum(t.total_cents), sum(t.decision NOT IN ('', 'approve'))
FROM transactions t, (SELECT 'minute' AS granularity, 60000000 AS unit UNION ALL SELECT 'hour', 3600000000) AS g
GROUP BY g.granularity, start, t.channel, t.payment_method, t.currency;
DROP TABLE window_metrics;
ALTER TABLE window_metrics_new RENAME TO window_metrics;
