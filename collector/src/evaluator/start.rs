//! `Start`: what the evaluator starts from after a collector start, the
//! stored state of each service and the first recheck round id, which is
//! read from the wall clock so that round ids never repeat across restarts
//! (a late answer to a round of a previous life cannot count in a new one),
//! and the clock certificate expiries are compared with.

use std::collections::HashMap;

use crate::domain::{DegradedAgent, ServiceId, ServiceMap, ServiceState};
use crate::time::Clock;

/// Where the evaluator starts.
#[derive(Debug, Clone)]
pub struct Start {
    /// The stored state and open-request flag per service.
    pub services: ServiceMap<(ServiceState, bool)>,
    /// The failing agents stored with each `degraded` service: their
    /// streaks resume, so a restart neither ends the degradation nor
    /// starts a round on their next failure.
    pub degraded: HashMap<ServiceId, Vec<DegradedAgent>>,
    /// The first recheck round id.
    pub first_round: u64,
    /// Where "now" comes from when a result's certificate expiry is
    /// compared with its service's `cert_expiry_warning`.
    pub clock: Clock,
}

impl Start {
    /// `services` as stored, with round ids numbered from `clock`'s time
    /// (ms × 1000).
    pub fn new(services: ServiceMap<(ServiceState, bool)>, clock: &Clock) -> Start {
        Start {
            services,
            degraded: HashMap::new(),
            first_round: clock.now_ms().max(1) as u64 * 1000,
            clock: clock.clone(),
        }
    }

    /// With the failing agents of the `degraded` services.
    pub fn with_degraded(mut self, degraded: HashMap<ServiceId, Vec<DegradedAgent>>) -> Start {
        self.degraded = degraded;
        self
    }
}
