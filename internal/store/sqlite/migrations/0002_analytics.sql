-- Times are Unix microseconds (UTC). Same tables and meaning as PostgreSQL.
CREATE TABLE customer_analytics (
    customer_id        TEXT PRIMARY KEY,
    recency_days       REAL NOT NULL,
    frequency_days     INTEGER NOT NULL,
    monetary_cents     INTEGER NOT NULL,
    r_score            INTEGER NOT NULL,
    f_score            INTEGER NOT NULL,
    m_score            INTEGER NOT NULL,
    segment            TEXT NOT NULL,
    cluster            INTEGER,
    p_alive            REAL,
    expected_purchases REAL,
    expected_aov       REAL,
    clv                REAL,
    clv_model_version  INTEGER,
    updated_at         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX customer_analytics_segment_idx ON customer_analytics (segment);
CREATE INDEX customer_analytics_clv_idx ON customer_analytics (clv DESC);

CREATE TABLE cohort_cells (
    cohort_month  INTEGER NOT NULL,
    month_offset  INTEGER NOT NULL,
    cohort_size   INTEGER NOT NULL,
    active        INTEGER NOT NULL,
    revenue_cents INTEGER NOT NULL,
    computed_at   INTEGER NOT NULL,
    PRIMARY KEY (cohort_month, month_offset)
) WITHOUT ROWID;
