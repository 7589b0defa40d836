-- Customer analytics: what the periodic refresh computes per customer (RFM
-- scores and segment, behavioural cluster, CLV figures), rewritten in chunks
-- every refresh. customers keeps the additive totals the stream maintains.
CREATE TABLE customer_analytics (
    customer_id        text PRIMARY KEY,
    recency_days       double precision NOT NULL,
    frequency_days     bigint NOT NULL,
    monetary_cents     bigint NOT NULL,
    r_score            smallint NOT NULL,
    f_score            smallint NOT NULL,
    m_score            smallint NOT NULL,
    segment            text NOT NULL,
    cluster            integer,
    p_alive            double precision,
    expected_purchases double precision,
    expected_aov       double precision,
    clv                double precision,
    clv_model_version  integer,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX customer_analytics_segment_idx ON customer_analytics (segment);
CREATE INDEX customer_analytics_clv_idx ON customer_analytics (clv DESC NULLS LAST);

-- The acquisition-cohort matrix as of the last refresh, replaced whole.
CREATE TABLE cohort_cells (
    cohort_month  timestamptz NOT NULL,
    month_offset  integer NOT NULL,
    cohort_size   bigint NOT NULL,
    active        bigint NOT NULL,
    revenue_cents bigint NOT NULL,
    computed_at   timestamptz NOT NULL,
    PRIMARY KEY (cohort_month, month_offset)
);
