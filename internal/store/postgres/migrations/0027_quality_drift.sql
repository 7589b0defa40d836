-- Drift as a trend (GET /api/v1/quality/drift): the population stability
-- index of each monitored field at each run of a processor's drift
-- detector, with the records compared either side.
CREATE TABLE quality_drift (
    at     timestamptz NOT NULL,
    source text NOT NULL,
    field  text NOT NULL,
    psi    double precision NOT NULL,
    ref    bigint NOT NULL,
    cur    bigint NOT NULL,
    PRIMARY KEY (at, source, field)
);
