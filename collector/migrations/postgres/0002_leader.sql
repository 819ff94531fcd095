-- The leadership lease: one row. The collector that holds it (holder, an
-- instance id per process) leads until expires_at_ms unless it renews;
-- epoch grows by one at each takeover and fences every leader-only write.
CREATE TABLE leader (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    advertise_url TEXT NOT NULL
);
INSERT INTO leader (id, holder, epoch, expires_at_ms, advertise_url) VALUES (1, '', 0, 0, '');
