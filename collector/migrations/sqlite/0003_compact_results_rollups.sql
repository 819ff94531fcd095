-- Picket 0003: integer keys, compact results, rollups, paused services.
--
-- Raw results are the bulk of the database, so each row carries small
-- integer keys instead of the agent's UUID and the service's id string,
-- stores no text for a successful probe (ok = 1 and round_id = 0 take no
-- bytes in an SQLite record), and is clustered on the one key every query
-- and the pruner need: (service, time). A replayed result has the same key
-- and is ignored, so no second index is needed for idempotence.

-- One small integer per service id and per agent id, never reused; a row
-- outlives the service or agent so old results keep their meaning.
CREATE TABLE service_keys (
    key              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE
);
CREATE TABLE agent_keys (
    key              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE
);

INSERT INTO service_keys (id) SELECT id FROM services ORDER BY id;
INSERT OR IGNORE INTO service_keys (id) SELECT DISTINCT service_id FROM results;
INSERT INTO agent_keys (id) SELECT id FROM agents ORDER BY created_ms, id;
INSERT OR IGNORE INTO agent_keys (id) SELECT DISTINCT agent_id FROM results;

CREATE TABLE results_compact (
    service          INTEGER NOT NULL,      -- service_keys.key
    time_ms          INTEGER NOT NULL,      -- when the probe started
    agent            INTEGER NOT NULL,      -- agent_keys.key
    round_id         INTEGER NOT NULL,      -- 0: a scheduled probe
    ok               INTEGER NOT NULL,      -- 0/1
    duration_us      INTEGER NOT NULL,
    status_code      INTEGER,               -- NULL: no HTTP response
    error_kind       INTEGER,               -- NULL on success, else the ErrorKind code
    error            TEXT,                  -- NULL on success
    PRIMARY KEY (service, time_ms, agent, round_id)
) WITHOUT ROWID;

-- Error kinds as codes, in the order `domain::ErrorKind` declares them:
-- 1 http_status, 2 timeout, 3 dns, 4 connect, 5 tls, 6 protocol,
-- 7 body_mismatch. (The store's `results` module owns the mapping.)
INSERT OR IGNORE INTO results_compact
    (service, time_ms, agent, round_id, ok, duration_us, status_code, error_kind, error)
SELECT sk.key, r.time_ms, ak.key, r.round_id, r.ok, r.duration_us, r.status_code,
       CASE r.error_kind
           WHEN 'http_status' THEN 1 WHEN 'timeout' THEN 2 WHEN 'dns' THEN 3
           WHEN 'connect' THEN 4 WHEN 'tls' THEN 5 WHEN 'protocol' THEN 6
           WHEN 'body_mismatch' THEN 7 ELSE NULL END,
       CASE WHEN r.ok = 1 THEN NULL ELSE r.error END
FROM results r
JOIN service_keys sk ON sk.id = r.service_id
JOIN agent_keys ak ON ak.id = r.agent_id;

DROP TABLE results;
ALTER TABLE results_compact RENAME TO results;

-- Hourly (period_s = 3600) and daily (86400) aggregates, per service
-- (scope 0, key = service_keys.key) and per agent (scope 1, key =
-- agent_keys.key), built as results commit. Latency figures cover the
-- successful probes; `histogram` holds their bucketed latencies (format
-- owned by the rollup module) so percentiles merge without raw rows.
CREATE TABLE rollups (
    scope            INTEGER NOT NULL,
    key              INTEGER NOT NULL,
    period_s         INTEGER NOT NULL,
    start_ms         INTEGER NOT NULL,      -- UTC start of the hour or day
    probes           INTEGER NOT NULL,
    failures         INTEGER NOT NULL,
    latency_count    INTEGER NOT NULL,
    latency_sum_us   INTEGER NOT NULL,
    latency_min_us   INTEGER,
    latency_max_us   INTEGER,
    histogram        BLOB NOT NULL,
    PRIMARY KEY (scope, key, period_s, start_ms)
) WITHOUT ROWID;

-- A service is `configured` while the config file lists it; `active`
-- stays what the file says (false: paused, listed, not probed).
ALTER TABLE services ADD COLUMN configured INTEGER NOT NULL DEFAULT 1;
UPDATE services SET configured = active;
