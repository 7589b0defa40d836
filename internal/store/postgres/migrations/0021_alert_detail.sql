-- The alert keeps its fraud scenario and the model version that scored it.
--
-- scenario is '' until a label names one: the generator's labels come in
-- the transaction's own batch, but label events (chargebacks, analysts'
-- decisions) arrive on the labels topic days later, so a live alert starts
-- without one. A trigger on labels copies the scenario of every label
-- written, changed or deleted onto the transaction's alert, whichever path
-- writes the label, so the queue's scenario filter walks (scenario, id)
-- newest first as the other filters walk theirs, instead of joining every
-- label of the scenario to the alerts (which grew with the history: 215 ms
-- at p95 over 3 million transactions).
--
-- model_version is the active fraud model version when the alert was
-- raised, NULL for the rules alone (and for alerts raised before this
-- migration). The feature vector it was scored from is not copied: every
-- transaction that raised an alert keeps its vector in transactions, read
-- by the alert's detail through the transaction's key.
ALTER TABLE alerts ADD COLUMN scenario text NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN model_version integer;
UPDATE alerts a SET scenario = l.scenario FROM labels l WHERE l.transaction_id = a.transaction_id AND l.scenario <> '';
-- Both the scenario alone and the scenario with a decision (the Fraud page
-- sends both) walk an index newest first: with (scenario, id) alone, a
-- scenario whose alerts are mostly declines walked most of them to find a
-- page of reviews (95 ms at p95, 544 ms at worst, over 3 million
-- transactions).
CREATE INDEX alerts_scenario_id_idx ON alerts (scenario, id) WHERE scenario <> '';
CREATE INDEX alerts_scenario_decision_id_idx ON alerts (scenario, decision, id) WHERE scenario <> '';
DROP INDEX labels_scenario_idx;

-- Only labels that name a scenario, or change or drop one, fire it: most
-- labels written with a batch name none (the legitimate ones, where a
-- processor still takes the generator's truth from the headers).
CREATE FUNCTION alerts_scenario_from_label() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE alerts SET scenario = '' WHERE transaction_id = OLD.transaction_id AND scenario <> '';
        RETURN OLD;
    END IF;
    UPDATE alerts SET scenario = NEW.scenario WHERE transaction_id = NEW.transaction_id AND scenario <> NEW.scenario;
    RETURN NEW;
END
$$;
CREATE TRIGGER labels_alert_scenario_insert AFTER INSERT ON labels
FOR EACH ROW WHEN (NEW.scenario <> '') EXECUTE FUNCTION alerts_scenario_from_label();
CREATE TRIGGER labels_alert_scenario_update AFTER UPDATE OF scenario ON labels
FOR EACH ROW WHEN (OLD.scenario IS DISTINCT FROM NEW.scenario) EXECUTE FUNCTION alerts_scenario_from_label();
CREATE TRIGGER labels_alert_scenario_delete AFTER DELETE ON labels
FOR EACH ROW WHEN (OLD.scenario <> '') EXECUTE FUNCTION alerts_scenario_from_label();
