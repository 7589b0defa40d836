-- Data quality per minute and check; see the PostgreSQL migration. Times
-- are Unix microseconds (UTC).
CREATE TABLE quality_minutes (
    minute     INTEGER NOT NULL,
    check_name TEXT NOT NULL,
    checked    INTEGER NOT NULL,
    passed     INTEGER NOT NULL,
    warned     INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    PRIMARY KEY (minute, check_name)
) WITHOUT ROWID;

CREATE TABLE quality_findings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    detected_at INTEGER NOT NULL,
    detector    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    severity    TEXT NOT NULL,
    value       REAL NOT NULL,
    threshold   REAL NOT NULL,
    message     TEXT NOT NULL,
    source      TEXT NOT NULL
);
CREATE INDEX quality_findings_detected_idx ON quality_findings (detected_at);
