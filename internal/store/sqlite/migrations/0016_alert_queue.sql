-- Who labelled an alert (the API's authenticated principal), next to when,
-- and the indexes of the alert queue's filters: each walks alerts newest
-- first by ID within one status or decision, or a span of event time; the
-- scenario filter starts from the few labels that name a scenario (the
-- labels table holds only reported fraud and verdicts, most with a scenario).
ALTER TABLE alerts ADD COLUMN labelled_by TEXT;
CREATE INDEX alerts_status_id_idx ON alerts (status, id);
CREATE INDEX alerts_decision_id_idx ON alerts (decision, id);
CREATE INDEX alerts_event_time_idx ON alerts (event_time);
CREATE INDEX labels_scenario_idx ON labels (scenario) WHERE scenario <> '';
