-- Picket 0004: latency phases and certificate expiry, with each result and
-- in the latest result of each (service, agent).
--
-- Phases as blackbox_exporter splits a probe (dns, connect, tls,
-- processing, transfer). The new result columns are NULL when not measured
-- (a reused connection has no DNS, connect or TLS phase; plain HTTP has no
-- certificate), and a NULL costs one byte of the record header. To keep a
-- result within 48 bytes, the transfer phase is not stored with results: it
-- is what `duration_us` leaves after the four others (to within the probe's
-- own overhead); the latest results keep it as measured. The certificate
-- expiry is kept in seconds (X.509 times have no finer resolution), which
-- takes 4 bytes until 2038 where milliseconds would take 6.
ALTER TABLE results ADD COLUMN dns_us INTEGER;
ALTER TABLE results ADD COLUMN connect_us INTEGER;
ALTER TABLE results ADD COLUMN tls_us INTEGER;
ALTER TABLE results ADD COLUMN processing_us INTEGER;
ALTER TABLE results ADD COLUMN cert_not_after_s INTEGER;

-- The newest stored result of each agent for each service, replaced in the
-- results' transaction by a newer one only (a replay changes nothing). It
-- starts empty and fills as results arrive, one interval after the upgrade.
CREATE TABLE latest_results (
    service           INTEGER NOT NULL,      -- service_keys.key
    agent             INTEGER NOT NULL,      -- agent_keys.key
    time_ms           INTEGER NOT NULL,      -- when the probe started
    round_id          INTEGER NOT NULL,      -- 0: a scheduled probe
    ok                INTEGER NOT NULL,
    duration_us       INTEGER NOT NULL,
    status_code       INTEGER,
    error_kind        INTEGER,               -- the results table's codes
    error             TEXT,
    dns_us            INTEGER,
    connect_us        INTEGER,
    tls_us            INTEGER,
    processing_us     INTEGER,
    transfer_us       INTEGER,
    cert_not_after_ms INTEGER,
    PRIMARY KEY (service, agent)
) WITHOUT ROWID;
