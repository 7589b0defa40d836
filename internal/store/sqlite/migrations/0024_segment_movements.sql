-- The analytics refresh records how customers moved between RFM segments
-- since the refresh before (GET /api/v1/segments/movement): one row per
-- refresh, the newest kept (the refresh deletes older ones), its cells as
-- a JSON array of {"from", "to", "customers"}, "" for a new customer
-- (from) or one no longer scored (to).
CREATE TABLE segment_movements (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    as_of                INTEGER NOT NULL,
    computed_at          INTEGER NOT NULL,
    previous_computed_at INTEGER,
    flows                TEXT NOT NULL
);

-- The cohort matrix's as-of instant: its month is unfinished, and the
-- cohorts API marks that column (NULL for a matrix stored before).
ALTER TABLE cohort_cells ADD COLUMN as_of INTEGER;
