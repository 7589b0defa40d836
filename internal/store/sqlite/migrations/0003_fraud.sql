-- Fraud model lifecycle: when a version got its status and when it was last
-- active (rollback re-activates the most recently active one not rolled
-- back itself), and at most one active and one shadow fraud model.
ALTER TABLE models ADD COLUMN status_at INTEGER;
ALTER TABLE models ADD COLUMN activated_at INTEGER;
ALTER TABLE models ADD COLUMN rolled_back INTEGER NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN note TEXT NOT NULL DEFAULT '';
UPDATE models SET status_at = created_at;
UPDATE models SET activated_at = created_at WHERE status = 'active';
CREATE UNIQUE INDEX models_iforest_active_idx ON models (kind) WHERE kind = 'iforest' AND status = 'active';
CREATE UNIQUE INDEX models_iforest_shadow_idx ON models (kind) WHERE kind = 'iforest' AND status = 'shadow';

-- Alerts get an insertion-ordered id for the alert queue API (newest first,
-- since_id polling); analysts set status to confirmed_fraud or
-- false_positive, which overrides the generator's label in evaluation. The
-- table is rebuilt so the id is a real column (an INTEGER PRIMARY KEY), not
-- a rowid that VACUUM may renumber.
CREATE TABLE alerts_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id TEXT NOT NULL UNIQUE,
    customer_id    TEXT NOT NULL,
    event_time     INTEGER NOT NULL,
    risk           REAL NOT NULL,
    decision       TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    amount_cents   INTEGER NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open',
    created_at     INTEGER NOT NULL,
    labelled_at    INTEGER
);
INSERT INTO alerts_new (transaction_id, customer_id, event_time, risk, decision, reasons, amount_cents, status, created_at, labelled_at)
    SELECT transaction_id, customer_id, event_time, risk, decision, reasons, amount_cents, status, created_at, labelled_at
    FROM alerts ORDER BY created_at, rowid;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
CREATE INDEX alerts_created_idx ON alerts (created_at);
