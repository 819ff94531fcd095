//! `HostStats`: what an agent reports about its host and itself with each
//! heartbeat, as plain data, and its conversion to and from the wire.
//!
//! The agent fills it from `/proc` and its own counters; the collector
//! stores it as JSON (these field names) and shows it in `picketctl agents`.

use crate::agent::v1 as pb;

/// Host statistics sent with each heartbeat.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HostStats {
    /// CPU busy percentage since the previous sample.
    pub cpu_percent: f64,
    /// 1-minute load average.
    pub load1: f64,
    /// 5-minute load average.
    pub load5: f64,
    /// 15-minute load average.
    pub load15: f64,
    /// Total memory.
    pub mem_total_bytes: u64,
    /// Memory in use (total − available).
    pub mem_used_bytes: u64,
    /// Disk size (0 when not measured).
    pub disk_total_bytes: u64,
    /// Disk in use (0 when not measured).
    pub disk_used_bytes: u64,
    /// Host uptime in seconds.
    pub uptime_s: u64,
    /// The agent's version.
    pub agent_version: String,
    /// Checks currently assigned.
    pub checks_assigned: u32,
    /// Probes currently running.
    pub checks_in_flight: u32,
    /// Results waiting for acknowledgement.
    pub results_buffered: u64,
    /// Results dropped because the buffer was full.
    pub results_dropped: u64,
}

/// `From` both ways between two structs with the same fields, listed once.
macro_rules! same_fields {
    ($a:path, $b:path { $($field:ident),+ $(,)? }) => {
        impl From<$a> for $b {
            fn from(s: $a) -> Self {
                $b { $($field: s.$field),+ }
            }
        }
        impl From<$b> for $a {
            fn from(s: $b) -> Self {
                $a { $($field: s.$field),+ }
            }
        }
    };
}

same_fields!(
    pb::HostStats,
    HostStats {
        cpu_percent,
        load1,
        load5,
        load15,
        mem_total_bytes,
        mem_used_bytes,
        disk_total_bytes,
        disk_used_bytes,
        uptime_s,
        agent_version,
        checks_assigned,
        checks_in_flight,
        results_buffered,
        results_dropped,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HostStats {
        HostStats {
            cpu_percent: 12.5,
            load1: 0.5,
            load5: 0.25,
            load15: 0.125,
            mem_total_bytes: 1,
            mem_used_bytes: 2,
            disk_total_bytes: 3,
            disk_used_bytes: 4,
            uptime_s: 5,
            agent_version: "0.1.0".into(),
            checks_assigned: 6,
            checks_in_flight: 7,
            results_buffered: 8,
            results_dropped: 9,
        }
    }

    #[test]
    fn stats_survive_the_wire() {
        let wire = pb::HostStats::from(sample());
        assert_eq!(wire.disk_used_bytes, 4);
        assert_eq!(wire.agent_version, "0.1.0");
        assert_eq!(HostStats::from(wire), sample());
    }

    #[test]
    fn stats_json_uses_the_field_names() {
        let json = serde_json::to_value(sample()).expect("serializable");
        assert_eq!(json["mem_used_bytes"], 2);
        assert_eq!(json["results_dropped"], 9);
        let back: HostStats = serde_json::from_value(json).expect("deserializable");
        assert_eq!(back, sample());
    }
}
