-- Maintenance modes (issue 13): what the running (or last) window does,
-- and the services whose outage a mute window holds back.
ALTER TABLE equipment ADD COLUMN maint_mode TEXT NOT NULL DEFAULT 'pause';
-- When the mute window began holding the service's outage (down without
-- a request); cleared when it recovers or when the window ends.
ALTER TABLE services ADD COLUMN held_since_ms BIGINT;
-- The [[maintenance.windows]] schedule that started the window (NULL: by hand).
ALTER TABLE equipment ADD COLUMN maint_schedule TEXT;
