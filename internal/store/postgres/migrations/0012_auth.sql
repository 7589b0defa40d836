-- API tokens and the audit trail. A token's secret is never stored: only
-- the SHA-256 of it (hex). Tokens are revoked, never deleted, so the audit
-- trail keeps naming them.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    hash         text NOT NULL,
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- Every change made through the API or the CLI: who, what, to what, when,
-- and the state before and after as JSON ('null' where there is none).
CREATE TABLE audit (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     timestamptz NOT NULL,
    actor  text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    before text NOT NULL,
    after  text NOT NULL
);
