-- Push check-ins (issue 13 point 5): monitored things that ping
-- /ping/{token}. A configured heartbeat (configured = 1) follows the
-- [[heartbeats]] tables; a registered one (configured = 0) came through
-- /heartbeats/register and starts in state 'new'. The token is stored
-- hashed (SHA-256 hex); a ping is one read on the unique index.
-- watch_from_ms: when its deadline started (approval or the first start)
-- for one never pinged. cloned_sources: JSON array of the sources seen.
CREATE TABLE heartbeats (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    state            TEXT NOT NULL,
    configured       INTEGER NOT NULL,
    period_ms        INTEGER NOT NULL,
    grace_ms         INTEGER NOT NULL,
    equipment_id     TEXT,
    priority         TEXT NOT NULL,
    token_hash       TEXT,
    created_ms       INTEGER NOT NULL,
    watch_from_ms    INTEGER,
    last_ping_ms     INTEGER,
    last_source      TEXT,
    last_stats       TEXT,
    late_since_ms    INTEGER,
    cloned           INTEGER NOT NULL DEFAULT 0,
    cloned_sources   TEXT
);
CREATE UNIQUE INDEX heartbeats_by_token ON heartbeats (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX heartbeats_by_state ON heartbeats (state, id);

ALTER TABLE requests ADD COLUMN heartbeat_id TEXT;
-- Invariant: at most one open request per heartbeat.
CREATE UNIQUE INDEX requests_one_open_per_heartbeat ON requests (heartbeat_id)
    WHERE stage = 'open' AND heartbeat_id IS NOT NULL;
