-- Detection-quality rollups: per event-time minute, hour and (UTC) day, counts of
-- transactions by truth (fraud, legit, or none when unlabelled), fraud
-- scenario, decision and whether an analyst's verdict decided the truth
-- (series '', risk_bucket -1), and histograms of the risk of labelled
-- transactions in 100 buckets of 0.01 (series 'active'; 'shadow' and
-- 'active_shadowed' for those a shadow model scored too). Kept in the
-- transaction that stores a batch and in the one that records a label, so
-- GET /api/v1/fraud/metrics reads a few thousand rows, not every
-- transaction. Backfilled here from the stored transactions.
CREATE TABLE fraud_rollups (
    granularity  TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    series       TEXT NOT NULL,
    risk_bucket  INTEGER NOT NULL,
    truth        TEXT NOT NULL,
    scenario     TEXT NOT NULL,
    decision     TEXT NOT NULL,
    analyst      INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst)
) WITHOUT ROWID;

CREATE TEMP TABLE fraud_rollup_outcomes AS
SELECT t.event_time, t.risk, t.shadow_risk, t.decision,
       CASE WHEN a.status = 'confirmed_fraud' THEN 'fraud' WHEN a.status = 'false_positive' THEN 'legit'
            WHEN l.fraud IS NULL THEN 'none' WHEN l.fraud THEN 'fraud' ELSE 'legit' END AS truth,
       coalesce(l.scenario, '') AS scenario,
       coalesce(a.status IN ('confirmed_fraud', 'false_positive'), 0) AS analyst
FROM transactions t
LEFT JOIN labels l ON l.transaction_id = t.transaction_id
LEFT JOIN alerts a ON a.transaction_id = t.transaction_id;

INSERT INTO fraud_rollups (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n)
SELECT g.granularity, o.event_time / g.unit * g.unit, '', -1, o.truth,
       CASE WHEN o.truth <> 'fraud' THEN '' WHEN o.scenario = '' THEN 'analyst' ELSE o.scenario END,
       o.decision, o.analyst, count(*)
FROM fraud_rollup_outcomes o, (SELECT 'minute' AS granularity, 60000000 AS unit UNION ALL SELECT 'hour', 3600000000 UNION ALL SELECT 'day', 86400000000) AS g
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- The bucket is floor(risk * 100) clamped to 0..99, as store.RiskBucket
-- takes it (which rounds the risk to a 32-bit float first, as PostgreSQL
-- stores it: a risk within a few parts in a billion of a bucket edge may
-- land in the neighbouring bucket here).
INSERT INTO fraud_rollups (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n)
SELECT g.granularity, o.event_time / g.unit * g.unit, s.series,
       CAST(min(99, max(0, CASE WHEN s.series = 'shadow' THEN o.shadow_risk ELSE o.risk END * 100)) AS INTEGER),
       o.truth, '', '', 0, count(*)
FROM fraud_rollup_outcomes o, (SELECT 'minute' AS granularity, 60000000 AS unit UNION ALL SELECT 'hour', 3600000000 UNION ALL SELECT 'day', 86400000000) AS g,
     (SELECT 'active' AS series UNION ALL SELECT 'shadow' UNION ALL SELECT 'active_shadowed') AS s
WHERE o.truth <> 'none' AND (s.series = 'active' OR o.shadow_risk IS NOT NULL)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

DROP TABLE fraud_rollup_outcomes;
