-- Degraded vantage points (issue 13): since when a service is degraded and
-- its failing agents (JSON: agent_id, name, region, since_ms, error); NULL
-- unless state = 'degraded'. Agent mutes: until when (epoch ms) and why.
ALTER TABLE services ADD COLUMN degraded_since_ms BIGINT;
ALTER TABLE services ADD COLUMN degraded_agents TEXT;
ALTER TABLE agents ADD COLUMN muted_until_ms BIGINT;
ALTER TABLE agents ADD COLUMN mute_note TEXT NOT NULL DEFAULT '';
