//! The texts of one request per root cause: `[HOST KO] {equipment}` and
//! `[MONITORING KO] collector {name}`, their descriptions, the notes of
//! services joining or recovering, and their closing notes. Pure.

use super::DEFAULT_PRIORITY;
use crate::domain::{EquipmentId, NewRequest, RequestKind, ServiceId, Vote};
use crate::time::rfc3339;
use picket_proto::contract::text::format_duration;

/// One service of a host or monitoring request as its texts show it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberText<'a> {
    pub id: &'a ServiceId,
    pub url: &'a str,
    /// The failure's label (`HTTP 503`), see [`failure_label`].
    pub failure: &'a str,
}

/// One service of a closing note: when it went down and came back.
#[derive(Debug, Clone, PartialEq)]
pub struct Downtime<'a> {
    pub id: &'a ServiceId,
    pub url: &'a str,
    pub down_ms: i64,
    /// `None`: still down when the request closed.
    pub up_ms: Option<i64>,
}

/// The first failing vote's label, `failure` when none has one.
pub fn failure_label(votes: &[Vote]) -> String {
    votes
        .iter()
        .find_map(|v| v.outcome.error.clone())
        .unwrap_or_else(|| "failure".to_owned())
}

/// `[HOST KO] {equipment name}`.
pub fn host_request_name(equipment: &str) -> String {
    format!("[HOST KO] {equipment}")
}

/// `[MONITORING KO] collector {advertise_url}`.
pub fn monitoring_request_name(collector: &str) -> String {
    format!("[MONITORING KO] collector {collector}")
}

fn member_lines(members: &[MemberText<'_>]) -> String {
    members
        .iter()
        .map(|m| format!("\n- {} ({}): {}", m.id, m.url, m.failure))
        .collect()
}

/// How many of the equipment's active services failed, then each one.
pub fn describe_host_down(equipment: &str, members: &[MemberText<'_>], active: usize) -> String {
    format!(
        "{} of {active} active services of {equipment} failed the double-check within one grouping window: \
         one request for the host, none per service.{}",
        members.len(),
        member_lines(members)
    )
}

/// The request most services of one equipment open together.
pub fn host_request(
    equipment_id: &EquipmentId,
    equipment: &str,
    priority: &str,
    members: &[MemberText<'_>],
    active: usize,
) -> NewRequest {
    NewRequest {
        name: host_request_name(equipment),
        kind: RequestKind::Host,
        priority: priority.to_owned(),
        description: describe_host_down(equipment, members, active),
        equipment_id: Some(equipment_id.clone()),
        url: None,
    }
}

/// The note of a service joining an open host or monitoring request.
pub fn joined_note(member: &MemberText<'_>) -> String {
    format!(
        "{} ({}) is down too: {}",
        member.id, member.url, member.failure
    )
}

/// The note of a service that recovered while its request stays open.
pub fn member_up_note(id: &ServiceId, url: &str, now_ms: i64) -> String {
    format!("{id} ({url}) is back up at {}", rfc3339(now_ms))
}

fn downtime_lines(members: &[Downtime<'_>], now_ms: i64) -> String {
    members
        .iter()
        .map(|m| match m.up_ms {
            Some(up) => format!(
                "\n- {} ({}): down {} (from {} to {})",
                m.id,
                m.url,
                format_duration(ms(up - m.down_ms)),
                rfc3339(m.down_ms),
                rfc3339(up)
            ),
            None => format!(
                "\n- {} ({}): still down after {} (since {})",
                m.id,
                m.url,
                format_duration(ms(now_ms - m.down_ms)),
                rfc3339(m.down_ms)
            ),
        })
        .collect()
}

/// Whole seconds: a downtime reads `1m30s`, not `90123ms`.
fn ms(ms: i64) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(ms / 1000).unwrap_or(0))
}

/// The note closing a host (or monitoring) request whose services are all
/// back up, with each one's downtime.
pub fn group_closing_note(members: &[Downtime<'_>], now_ms: i64) -> String {
    format!(
        "closed automatically: every service is back up at {}:{}",
        rfc3339(now_ms),
        downtime_lines(members, now_ms)
    )
}

/// Why the monitoring is more likely at fault than the services.
pub fn describe_monitoring_down(down: usize, active: usize, equipments: usize) -> String {
    format!(
        "{down} of {active} active services on {equipments} equipments failed the double-check \
         within one grouping window: the monitoring's own network or the collector's is more \
         likely at fault than the services. No request is opened for these services while \
         this one is open."
    )
}

/// The one request opened when every agent fails (nearly) everything.
pub fn monitoring_request(
    collector: &str,
    down: usize,
    active: usize,
    equipments: usize,
) -> NewRequest {
    NewRequest {
        name: monitoring_request_name(collector),
        kind: RequestKind::Monitoring,
        priority: DEFAULT_PRIORITY.to_owned(),
        description: describe_monitoring_down(down, active, equipments),
        equipment_id: None,
        url: None,
    }
}

/// The note closing `[MONITORING KO]` once the share of down services fell
/// below `monitoring_down_ratio`.
pub fn monitoring_closing_note(
    down: usize,
    active: usize,
    members: &[Downtime<'_>],
    now_ms: i64,
) -> String {
    format!(
        "closed automatically: {down} of {active} active services are down at {}, below \
         monitoring_down_ratio; the services still down get their own requests:{}",
        rfc3339(now_ms),
        downtime_lines(members, now_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_614_265_330_123;

    #[test]
    fn names() {
        assert_eq!(host_request_name("Web server 1"), "[HOST KO] Web server 1");
        assert_eq!(
            monitoring_request_name("http://10.0.0.1:7070"),
            "[MONITORING KO] collector http://10.0.0.1:7070"
        );
    }

    #[test]
    fn host_description_lists_each_service_with_its_failure() {
        let (a, b) = (ServiceId::from("shop"), ServiceId::from("api"));
        let members = [
            MemberText {
                id: &a,
                url: "http://shop.test",
                failure: "HTTP 503",
            },
            MemberText {
                id: &b,
                url: "http://api.test",
                failure: "connect: connection refused",
            },
        ];
        assert_eq!(
            describe_host_down("Web 1", &members, 2),
            "2 of 2 active services of Web 1 failed the double-check within one grouping window: \
             one request for the host, none per service.\n\
             - shop (http://shop.test): HTTP 503\n\
             - api (http://api.test): connect: connection refused"
        );
    }

    #[test]
    fn closing_note_gives_each_downtime() {
        let a = ServiceId::from("shop");
        let b = ServiceId::from("api");
        let note = group_closing_note(
            &[
                Downtime {
                    id: &a,
                    url: "http://shop.test",
                    down_ms: T0,
                    up_ms: Some(T0 + 90_000),
                },
                Downtime {
                    id: &b,
                    url: "http://api.test",
                    down_ms: T0,
                    up_ms: None,
                },
            ],
            T0 + 120_000,
        );
        assert_eq!(
            note,
            "closed automatically: every service is back up at 2021-02-25T15:04:10.123Z:\n\
             - shop (http://shop.test): down 1m30s (from 2021-02-25T15:02:10.123Z to 2021-02-25T15:03:40.123Z)\n\
             - api (http://api.test): still down after 2m (since 2021-02-25T15:02:10.123Z)"
        );
    }
}
