//! The failing agents of a `degraded` service as JSON.

use serde_json::{Value, json};

use crate::domain::DegradedAgent;
use crate::time::rfc3339;

/// The failing agents of a `degraded` service (events and the store's
/// `degraded_agents` column).
pub fn degraded_json(agents: &[DegradedAgent]) -> Value {
    agents
        .iter()
        .map(|a| {
            json!({
                "agent_id": a.agent_id,
                "name": a.name,
                "region": a.region,
                "since": rfc3339(a.since_ms),
                "error": a.error,
            })
        })
        .collect()
}
