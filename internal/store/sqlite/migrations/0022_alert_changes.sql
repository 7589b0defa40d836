-- The alert's changes are numbered (see the PostgreSQL migration of the
-- same number): label_seq is 0 for an alert never changed, otherwise one
-- more than the highest number when its scenario or status last changed.
-- SQLite writes one transaction at a time, so the highest number plus
-- one is as good as a sequence; the trigger's own update changes neither
-- column and fires nothing.
ALTER TABLE alerts ADD COLUMN label_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX alerts_label_seq_idx ON alerts (label_seq) WHERE label_seq > 0;

CREATE TRIGGER alerts_label_seq_update AFTER UPDATE OF scenario, status ON alerts
WHEN OLD.scenario <> NEW.scenario OR OLD.status <> NEW.status
BEGIN
    UPDATE alerts SET label_seq = (SELECT coalesce(max(label_seq), 0) + 1 FROM alerts WHERE label_seq > 0)
    WHERE id = NEW.id;
END;
