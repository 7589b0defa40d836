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
    granularity  text NOT NULL,
    bucket_start timestamptz NOT NULL,
    series       text NOT NULL,
    risk_bucket  smallint NOT NULL,
    truth        text NOT NULL,
    scenario     text NOT NULL,
    decision     text NOT NULL,
    analyst      boolean NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst)
);

CREATE TEMP TABLE fraud_rollup_outcomes AS
SELECT t.event_time, t.risk, t.shadow_risk, t.decision,
       CASE WHEN a.status = 'confirmed_fraud' THEN 'fraud' WHEN a.status = 'false_positive' THEN 'legit'
            WHEN l.fraud IS NULL THEN 'none' WHEN l.fraud THEN 'fraud' ELSE 'legit' END AS truth,
       coalesce(l.scenario, '') AS scenario,
       coalesce(a.status IN ('confirmed_fraud', 'false_positive'), false) AS analyst
FROM transactions t
LEFT JOIN labels l ON l.transaction_id = t.transaction_id
LEFT JOIN alerts a ON a.transaction_id = t.transaction_id;

INSERT INTO fraud_rollups (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n)
SELECT g.granularity, date_trunc(g.granularity, o.event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', '', -1, o.truth,
       CASE WHEN o.truth <> 'fraud' THEN '' WHEN o.scenario = '' THEN 'analyst' ELSE o.scenario END,
       o.decision, o.analyst, count(*)
FROM fraud_rollup_outcomes o CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS g(granularity)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- The bucket is floor(risk * 100) clamped to 0..99 of the stored (32-bit)
-- risk, as store.RiskBucket takes it.
INSERT INTO fraud_rollups (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n)
SELECT g.granularity, date_trunc(g.granularity, o.event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', s.series,
       least(99, greatest(0, floor((CASE WHEN s.series = 'shadow' THEN o.shadow_risk ELSE o.risk END)::float8 * 100)))::smallint,
       o.truth, '', '', false, count(*)
FROM fraud_rollup_outcomes o CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS g(granularity)
     CROSS JOIN (VALUES ('active'), ('shadow'), ('active_shadowed')) AS s(series)
WHERE o.truth <> 'none' AND (s.series = 'active' OR o.shadow_risk IS NOT NULL)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

DROP TABLE fraud_rollup_outcomes;
