-- The alert's changes are numbered, so the dashboard's live stream can
-- follow them as it follows new alerts: a label event arriving days
-- after the alert names its scenario (the labels trigger of migration
-- 0021), an analyst marks it. label_seq is 0 for an alert never changed,
-- and otherwise the number of its latest change from alerts_label_seq;
-- the stream reads the alerts changed past the number it saw last
-- (label_seq > $1 ORDER BY label_seq). Only a change of scenario or
-- status takes a number: the no-op update with which the label writer
-- locks alerts (SET status = status) takes none. Both columns are
-- indexed already, so the updates that number a change were not
-- heap-only before either.
CREATE SEQUENCE alerts_label_seq;
ALTER TABLE alerts ADD COLUMN label_seq bigint NOT NULL DEFAULT 0;
CREATE INDEX alerts_label_seq_idx ON alerts (label_seq) WHERE label_seq > 0;

CREATE FUNCTION alerts_number_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.label_seq := nextval('alerts_label_seq');
    RETURN NEW;
END
$$;
CREATE TRIGGER alerts_label_seq_update BEFORE UPDATE OF scenario, status ON alerts
FOR EACH ROW WHEN (OLD.scenario IS DISTINCT FROM NEW.scenario OR OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION alerts_number_change();
