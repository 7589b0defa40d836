-- The dashboard's coarse samples of each process's own metrics (the System
-- page's history beyond the two hours a server keeps in memory, across
-- restarts): one row per sample of a tier (step_seconds: 300 or 3600) per
-- instance, its figures in a compact binary encoding of the writer
-- (internal/web/histpersist.go). Saving a sample deletes its tier's rows
-- older than the tier keeps.
CREATE TABLE system_samples (
    instance     TEXT NOT NULL,
    step_seconds INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (instance, step_seconds, at)
);
CREATE INDEX system_samples_step_at ON system_samples (step_seconds, at);
