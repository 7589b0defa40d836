-- Data quality per minute and check: records checked, passed, warned and
-- failed, added by every batch in the transaction that stores it (see
-- docs/quality.md for what each count means).
CREATE TABLE quality_minutes (
    minute     timestamptz NOT NULL,
    check_name text NOT NULL,
    checked    bigint NOT NULL,
    passed     bigint NOT NULL,
    warned     bigint NOT NULL,
    failed     bigint NOT NULL,
    PRIMARY KEY (minute, check_name)
);

-- What the stream detectors found, one row per detector run that found it.
CREATE TABLE quality_findings (
    id          bigserial PRIMARY KEY,
    detected_at timestamptz NOT NULL,
    detector    text NOT NULL,
    subject     text NOT NULL,
    severity    text NOT NULL,
    value       double precision NOT NULL,
    threshold   double precision NOT NULL,
    message     text NOT NULL,
    source      text NOT NULL
);
CREATE INDEX quality_findings_detected_idx ON quality_findings (detected_at);
