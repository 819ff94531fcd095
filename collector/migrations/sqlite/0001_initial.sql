-- Picket collector schema (SQLite). Times are milliseconds since the Unix
-- epoch (UTC); booleans are 0/1 integers.

CREATE TABLE equipment (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    customer         TEXT,
    -- the running (or last) maintenance window
    maint_starts_ms  INTEGER,
    maint_ends_ms    INTEGER,
    maint_reason     TEXT,
    maint_active     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE services (
    id               TEXT PRIMARY KEY,
    url              TEXT NOT NULL,
    equipment_id     TEXT NOT NULL,
    active           INTEGER NOT NULL DEFAULT 1,
    state            TEXT NOT NULL DEFAULT 'unknown',
    state_since_ms   INTEGER,
    ok               INTEGER,
    last_status_code INTEGER,
    last_error_kind  TEXT,
    last_error       TEXT,
    last_check_ms    INTEGER,
    last_latency_us  INTEGER,
    open_request_id  INTEGER
);

CREATE TABLE agents (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    region           TEXT NOT NULL,
    labels           TEXT NOT NULL DEFAULT '{}',
    state            TEXT NOT NULL,
    credential_hash  TEXT,
    version          TEXT,
    created_ms       INTEGER NOT NULL,
    last_seen_ms     INTEGER,
    stats            TEXT,
    -- highest result seq committed for this agent
    last_seq         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE results (
    agent_id         TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    service_id       TEXT NOT NULL,
    round_id         INTEGER NOT NULL,
    time_ms          INTEGER NOT NULL,
    ok               INTEGER NOT NULL,
    status_code      INTEGER,
    error_kind       TEXT,
    error            TEXT,
    duration_us      INTEGER NOT NULL,
    PRIMARY KEY (agent_id, seq)
);
CREATE INDEX results_by_service_time ON results (service_id, time_ms);

CREATE TABLE requests (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    priority         TEXT NOT NULL,
    description      TEXT NOT NULL,
    stage            TEXT NOT NULL,
    service_id       TEXT,
    agent_id         TEXT,
    equipment_id     TEXT,
    url              TEXT,
    opened_ms        INTEGER NOT NULL,
    closed_ms        INTEGER,
    close_reason     TEXT
);
-- Invariant: at most one open request per service and per agent.
CREATE UNIQUE INDEX requests_one_open_per_service ON requests (service_id)
    WHERE stage = 'open' AND service_id IS NOT NULL;
CREATE UNIQUE INDEX requests_one_open_per_agent ON requests (agent_id)
    WHERE stage = 'open' AND agent_id IS NOT NULL;

CREATE TABLE request_notes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id       INTEGER NOT NULL REFERENCES requests (id),
    author           TEXT NOT NULL,
    time_ms          INTEGER NOT NULL,
    text             TEXT NOT NULL
);
CREATE INDEX request_notes_by_request ON request_notes (request_id);

CREATE TABLE events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         TEXT NOT NULL UNIQUE,
    time_ms          INTEGER NOT NULL,
    type             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    payload          TEXT NOT NULL
);

-- One row per (event, webhook): written in the event's transaction.
CREATE TABLE webhook_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook          TEXT NOT NULL,
    event_seq        INTEGER NOT NULL,
    msg_id           TEXT NOT NULL,
    body             TEXT NOT NULL,
    -- pending, delivered, failed
    state            TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    first_attempt_ms INTEGER,
    delivered_ms     INTEGER,
    last_error       TEXT,
    UNIQUE (webhook, event_seq)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (webhook, state, next_attempt_ms);
