-- Picket: a service's last check is read from `latest_results` (the newest
-- of its agents' latest results, joined when a service is read), no longer
-- copied into its row on every result: at a million services that update
-- was a fifth of the ingest's row writes.
ALTER TABLE services DROP COLUMN ok;
ALTER TABLE services DROP COLUMN last_status_code;
ALTER TABLE services DROP COLUMN last_error_kind;
ALTER TABLE services DROP COLUMN last_error;
ALTER TABLE services DROP COLUMN last_check_ms;
ALTER TABLE services DROP COLUMN last_latency_us;
