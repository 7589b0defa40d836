-- The alert keeps its fraud scenario and the model version that scored it
-- (see the PostgreSQL migration of the same number): scenario is '' until
-- a label names one, copied by triggers on labels whichever path writes
-- it (only labels that name, change or drop one fire them); model_version
-- is NULL for the rules alone.
ALTER TABLE alerts ADD COLUMN scenario TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN model_version INTEGER;
UPDATE alerts SET scenario = (SELECT l.scenario FROM labels l WHERE l.transaction_id = alerts.transaction_id)
WHERE transaction_id IN (SELECT transaction_id FROM labels WHERE scenario <> '');
CREATE INDEX alerts_scenario_id_idx ON alerts (scenario, id) WHERE scenario <> '';
CREATE INDEX alerts_scenario_decision_id_idx ON alerts (scenario, decision, id) WHERE scenario <> '';
DROP INDEX labels_scenario_idx;

CREATE TRIGGER labels_alert_scenario_insert AFTER INSERT ON labels WHEN NEW.scenario <> ''
BEGIN
    UPDATE alerts SET scenario = NEW.scenario WHERE transaction_id = NEW.transaction_id AND scenario <> NEW.scenario;
END;
CREATE TRIGGER labels_alert_scenario_update AFTER UPDATE OF scenario ON labels WHEN OLD.scenario <> NEW.scenario
BEGIN
    UPDATE alerts SET scenario = NEW.scenario WHERE transaction_id = NEW.transaction_id AND scenario <> NEW.scenario;
END;
CREATE TRIGGER labels_alert_scenario_delete AFTER DELETE ON labels WHEN OLD.scenario <> ''
BEGIN
    UPDATE alerts SET scenario = '' WHERE transaction_id = OLD.transaction_id AND scenario <> '';
END;
