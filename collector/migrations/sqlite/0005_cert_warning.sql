-- Picket 0005: certificate expiry warnings.
--
-- `service.cert_expiring` is written once per certificate of a service,
-- identified by its notAfter: a row here is the mark that it was, written
-- in the event's transaction, so that neither a second agent seeing the
-- same certificate nor a collector restart warns again, while a different
-- certificate (another notAfter) still does. A few rows per service and
-- year; a service's rows go when the service leaves the configuration.
CREATE TABLE cert_warnings (
    service_id       TEXT NOT NULL,
    not_after_ms     INTEGER NOT NULL,
    warned_ms        INTEGER NOT NULL,
    PRIMARY KEY (service_id, not_after_ms)
) WITHOUT ROWID;

-- Each service's `cert_expiry_warning` in ms, written by the catalog sync
-- (start and reload), so that readers (GetService, pages) can tell whether
-- its latest certificate expires soon without the configuration.
ALTER TABLE services ADD COLUMN cert_warning_ms INTEGER NOT NULL DEFAULT 1209600000;
