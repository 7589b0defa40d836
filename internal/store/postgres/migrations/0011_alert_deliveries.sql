-- Alert routing: what became of each routed alert at each destination, and
-- the messages to send (an alert's own, a group's, a digest's), with their
-- attempts and outcome. The deliverer routes each alert queued in the
-- outbox into these rows (alertroute decides) and sends the pending ones.
CREATE TABLE alert_deliveries (
    id              bigserial PRIMARY KEY,
    outbox_id       bigint,                    -- the queued alert; NULL for a group or digest message
    destination     text NOT NULL,
    rule            text NOT NULL,
    status          text NOT NULL,             -- pending, sent, failed, deduplicated, grouped, rate_limited
    bundle          text NOT NULL DEFAULT '',  -- '' (one alert), group, digest
    bundle_key      text NOT NULL DEFAULT '',
    bundle_id       bigint,                    -- the group or digest carrying a grouped or rate-limited alert
    alert_kind      text NOT NULL,
    alert_key       text NOT NULL DEFAULT '',  -- the dedup key
    severity        text NOT NULL,
    category        text NOT NULL,
    summary         text NOT NULL,
    payload         bytea,
    counts          integer NOT NULL DEFAULT 0, -- 1: counted by the destination's rate limit
    sealed          integer NOT NULL DEFAULT 0, -- 1: a group or digest taken by the deliverer, collecting no more
    members         integer NOT NULL DEFAULT 0, -- alerts a group or digest carried when sent
    created_at      timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_error      text NOT NULL DEFAULT '',
    delivered_at    timestamptz
);
CREATE UNIQUE INDEX alert_deliveries_outbox_idx ON alert_deliveries (outbox_id, destination) WHERE outbox_id IS NOT NULL;
CREATE INDEX alert_deliveries_pending_idx ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_key_idx ON alert_deliveries (destination, alert_key, created_at);
CREATE INDEX alert_deliveries_dest_idx ON alert_deliveries (destination, created_at);
CREATE INDEX alert_deliveries_bundle_idx ON alert_deliveries (bundle_id) WHERE bundle_id IS NOT NULL;

-- One row whose update serialises routing and the taking of groups and
-- digests among deliverers, so a rate limit or a dedup window holds
-- however many run.
CREATE TABLE alert_router (
    id    integer PRIMARY KEY,
    turns bigint NOT NULL DEFAULT 0
);
INSERT INTO alert_router (id) VALUES (1);
