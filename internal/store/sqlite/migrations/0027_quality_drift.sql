-- Drift as a trend (GET /api/v1/quality/drift): the population stability
-- index of each monitored field at each run of a processor's drift
-- detector, with the records compared either side.
CREATE TABLE quality_drift (
    at     INTEGER NOT NULL,
    source TEXT NOT NULL,
    field  TEXT NOT NULL,
    psi    REAL NOT NULL,
    ref    INTEGER NOT NULL,
    cur    INTEGER NOT NULL,
    PRIMARY KEY (at, source, field)
) WITHOUT ROWID;
