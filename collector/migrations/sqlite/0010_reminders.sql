-- Acknowledgement (`picketctl requests ack`) stops a request's reminders.
ALTER TABLE requests ADD COLUMN acknowledged_ms INTEGER;
ALTER TABLE requests ADD COLUMN acknowledged_by TEXT;
-- Reminders sent per request and cadence: webhook '' is the
-- `request.reminder` event every subscribed webhook receives (the
-- service's or [defaults]' remind_every), a name is that webhook's own
-- remind_every. The next one is due from these, so restarts and
-- failovers neither repeat nor skip one.
CREATE TABLE request_reminders (
    request_id       INTEGER NOT NULL,
    webhook          TEXT NOT NULL,
    sent             INTEGER NOT NULL,
    last_ms          INTEGER NOT NULL,
    PRIMARY KEY (request_id, webhook)
);
