//! The texts of a `[NO CHECK-IN]` request: its name, description and
//! closing notes. Pure: times come in as arguments.

use std::time::Duration;

use picket_proto::contract::text::format_duration;

use crate::domain::{EquipmentId, HeartbeatId, NewRequest, RequestKind};
use crate::time::rfc3339;

/// `[NO CHECK-IN] {name}`.
pub fn checkin_request_name(name: &str) -> String {
    format!("[NO CHECK-IN] {name}")
}

/// What a silent heartbeat is, as its request describes it.
pub struct Silent<'a> {
    pub id: &'a HeartbeatId,
    pub name: &'a str,
    pub period: Duration,
    pub grace: Duration,
    /// Its last ping, `None` when it never pinged.
    pub last_ping_ms: Option<i64>,
    /// When its deadline started counting (approval or start-up).
    pub since_ms: i64,
    pub equipment: Option<&'a EquipmentId>,
    pub priority: &'a str,
}

/// Why the check-in is missing: who, since when, and the period.
pub fn describe_missed(s: &Silent<'_>) -> String {
    let last = match s.last_ping_ms {
        Some(ms) => format!("its last check-in was at {}", rfc3339(ms)),
        None => format!("it has not checked in since {}", rfc3339(s.since_ms)),
    };
    format!(
        "heartbeat {} ({}) is silent: {last} (expected every {}, grace {})",
        s.name,
        s.id,
        format_duration(s.period),
        format_duration(s.grace),
    )
}

/// The request a silent heartbeat opens.
pub fn checkin_request(s: &Silent<'_>) -> NewRequest {
    NewRequest {
        name: checkin_request_name(s.name),
        kind: RequestKind::Checkin,
        priority: s.priority.to_owned(),
        description: describe_missed(s),
        equipment_id: s.equipment.cloned(),
        url: None,
    }
}

/// The note closing a heartbeat's request when it pings at `ping_ms`.
pub fn checkin_closing_note(name: &str, id: &HeartbeatId, ping_ms: i64, source: &str) -> String {
    format!(
        "closed automatically: heartbeat {name} ({id}) checked in at {} from {source}",
        rfc3339(ping_ms)
    )
}

/// The note closing the request of a heartbeat that left the configuration.
pub const HEARTBEAT_REMOVED_NOTE: &str =
    "closed automatically: the heartbeat was removed from the configuration";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_heartbeat_its_last_ping_and_period() {
        let id = HeartbeatId::from("backup");
        let s = Silent {
            id: &id,
            name: "nightly backup",
            period: Duration::from_secs(3600),
            grace: Duration::from_secs(60),
            last_ping_ms: Some(1_614_265_330_123),
            since_ms: 0,
            equipment: None,
            priority: "1",
        };
        let r = checkin_request(&s);
        assert_eq!(r.name, "[NO CHECK-IN] nightly backup");
        assert_eq!((r.kind, r.priority.as_str()), (RequestKind::Checkin, "1"));
        assert_eq!(
            r.description,
            "heartbeat nightly backup (backup) is silent: its last check-in was at \
             2021-02-25T15:02:10.123Z (expected every 1h, grace 1m)"
        );
        let never = describe_missed(&Silent {
            last_ping_ms: None,
            since_ms: 1_614_265_330_123,
            ..s
        });
        assert!(never.contains("has not checked in since 2021-02-25T15:02:10.123Z"));
    }
}
