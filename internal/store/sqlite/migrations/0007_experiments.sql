-- A/B experiments: their definitions (as JSON, owned by package abtest) and
-- one exposure per experiment and customer: the first one, so a repeat
-- exposure or a retried write changes nothing.
CREATE TABLE experiments (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE experiment_exposures (
    experiment  TEXT NOT NULL REFERENCES experiments (name),
    customer_id TEXT NOT NULL,
    variant     INTEGER NOT NULL,
    exposed_at  INTEGER NOT NULL,
    window_end  INTEGER NOT NULL,
    items       TEXT NOT NULL,
    PRIMARY KEY (experiment, customer_id)
) WITHOUT ROWID;
