-- Heartbeat history per agent (the latest is also on agents.stats).
CREATE TABLE agent_heartbeats (
    agent_id         TEXT NOT NULL,
    time_ms          INTEGER NOT NULL,
    stats            TEXT NOT NULL,
    PRIMARY KEY (agent_id, time_ms)
);
