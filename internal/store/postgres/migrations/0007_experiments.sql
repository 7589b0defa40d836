-- A/B experiments: their definitions (as JSON, owned by package abtest) and
-- one exposure per experiment and customer: the first one, so a repeat
-- exposure or a retried write changes nothing.
CREATE TABLE experiments (
    name       text PRIMARY KEY,
    definition text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE experiment_exposures (
    experiment  text NOT NULL REFERENCES experiments (name),
    customer_id text NOT NULL,
    variant     integer NOT NULL,
    exposed_at  timestamptz NOT NULL,
    window_end  timestamptz NOT NULL,
    items       text NOT NULL,
    PRIMARY KEY (experiment, customer_id)
);
