-- One request per root cause (issue 13): the services of a host or
-- monitoring request, each with when it went down and came back, the URL
-- and failure its texts show; and at most one open such request per
-- equipment (host) and overall (monitoring).
CREATE TABLE request_services (
    request_id       INTEGER NOT NULL REFERENCES requests (id),
    service_id       TEXT NOT NULL,
    url              TEXT NOT NULL,
    failure          TEXT NOT NULL,
    down_ms          INTEGER NOT NULL,
    up_ms            INTEGER,
    PRIMARY KEY (request_id, service_id)
);
CREATE UNIQUE INDEX requests_one_open_host ON requests (equipment_id)
    WHERE stage = 'open' AND kind = 'host';
CREATE UNIQUE INDEX requests_one_open_monitoring ON requests (kind)
    WHERE stage = 'open' AND kind = 'monitoring';
