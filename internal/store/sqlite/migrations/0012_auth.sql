-- API tokens and the audit trail. A token's secret is never stored: only
-- the SHA-256 of it (hex). Tokens are revoked, never deleted, so the audit
-- trail keeps naming them; AUTOINCREMENT never hands an ID out twice.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    hash         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

-- Every change made through the API or the CLI: who, what, to what, when,
-- and the state before and after as JSON ('null' where there is none).
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT NOT NULL,
    after  TEXT NOT NULL
);
