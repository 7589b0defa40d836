-- Fraud model lifecycle: when a version got its status and when it was last
-- active (rollback re-activates the most recently active one not rolled
-- back itself), and at most one active and one shadow fraud model.
ALTER TABLE models ADD COLUMN status_at timestamptz;
ALTER TABLE models ADD COLUMN activated_at timestamptz;
ALTER TABLE models ADD COLUMN rolled_back boolean NOT NULL DEFAULT false;
ALTER TABLE models ADD COLUMN note text NOT NULL DEFAULT '';
UPDATE models SET status_at = created_at;
UPDATE models SET activated_at = created_at WHERE status = 'active';
CREATE UNIQUE INDEX models_iforest_active_idx ON models (kind) WHERE kind = 'iforest' AND status = 'active';
CREATE UNIQUE INDEX models_iforest_shadow_idx ON models (kind) WHERE kind = 'iforest' AND status = 'shadow';

-- Alerts get an insertion-ordered id for the alert queue API (newest first,
-- since_id polling); analysts set status to confirmed_fraud or
-- false_positive, which overrides the generator's label in evaluation.
ALTER TABLE alerts ADD COLUMN id bigserial;
CREATE UNIQUE INDEX alerts_id_idx ON alerts (id);
