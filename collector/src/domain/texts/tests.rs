//! Request texts, input by input.

use super::*;
use crate::domain::{AgentState, ErrorKind, Liveness, ProbeOutcome};

const T0: i64 = 1_614_265_330_123; // 2021-02-25T15:02:10.123Z
const URL: &str = "http://shop.test/health";

fn vote(agent: &str, ok: bool, code: Option<u16>, error: Option<&str>, t: i64) -> Vote {
    Vote {
        agent: agent.into(),
        agent_name: format!("edge-{agent}"),
        outcome: ProbeOutcome {
            ok,
            status_code: code,
            error_kind: (!ok).then_some(ErrorKind::HttpStatus),
            error: error.map(str::to_owned),
            duration_us: 5,
            phases: Default::default(),
            cert_not_after_ms: None,
        },
        time_ms: t,
    }
}

fn agent(last_seen_ms: Option<i64>) -> AgentSnapshot {
    AgentSnapshot {
        id: "a1".into(),
        name: "edge-1".into(),
        region: "eu".into(),
        state: AgentState::Active,
        liveness: Liveness::Dead,
        last_seen_ms,
    }
}

fn check<I: std::fmt::Debug>(text: impl Fn(&I) -> String, table: &[(I, &str)]) {
    for (input, expected) in table {
        assert_eq!(text(input), *expected, "input {input:?}");
    }
}

#[test]
fn names() {
    check(
        |url: &&str| service_request_name(url),
        &[
            (URL, "[HTTP KO] http://shop.test/health"),
            ("http://x", "[HTTP KO] http://x"),
        ],
    );
    check(
        |name: &&str| agent_request_name(name),
        &[("edge-1", "[AGENT DOWN] edge-1"), ("", "[AGENT DOWN] ")],
    );
}

#[test]
fn failure_descriptions_start_with_the_first_label() {
    check(
        |votes: &Vec<Vote>| describe_failure(URL, votes),
        &[
            (
                vec![
                    vote("a1", false, Some(503), Some("HTTP 503"), T0),
                    vote("a2", false, None, None, T0 + 877),
                ],
                "HTTP 503\n\nhttp://shop.test/health failed the double-check.\nSeen by:\n\
                 - edge-a1 (a1): HTTP 503 at 2021-02-25T15:02:10.123Z\n\
                 - edge-a2 (a2): failed at 2021-02-25T15:02:11.000Z",
            ),
            (
                vec![
                    vote("a1", false, None, None, T0),
                    vote("a2", false, None, Some("timeout after 10s"), T0),
                ],
                "timeout after 10s\n\nhttp://shop.test/health failed the double-check.\nSeen by:\n\
                 - edge-a1 (a1): failed at 2021-02-25T15:02:10.123Z\n\
                 - edge-a2 (a2): timeout after 10s at 2021-02-25T15:02:10.123Z",
            ),
            (
                vec![],
                "failure\n\nhttp://shop.test/health failed the double-check.\nSeen by:",
            ),
        ],
    );
}

#[test]
fn service_closing_notes_name_the_code_and_the_agents() {
    check(
        |votes: &Vec<Vote>| closing_note(URL, votes, T0),
        &[
            (
                vec![vote("a1", true, Some(200), None, 1)],
                "closed automatically: http://shop.test/health answered HTTP 200 from agents edge-a1 at 2021-02-25T15:02:10.123Z",
            ),
            (
                vec![
                    vote("a1", true, None, None, 1),
                    vote("a2", true, Some(204), None, 1),
                ],
                "closed automatically: http://shop.test/health answered HTTP 204 from agents edge-a1, edge-a2 at 2021-02-25T15:02:10.123Z",
            ),
            (
                vec![],
                "closed automatically: http://shop.test/health answered OK from agents - at 2021-02-25T15:02:10.123Z",
            ),
        ],
    );
}

#[test]
fn agent_down_descriptions_say_since_when() {
    check(
        |(seen, every, missed): &(Option<i64>, Duration, u32)| {
            describe_agent_down(&agent(*seen), *every, *missed)
        },
        &[
            (
                (Some(T0), Duration::from_secs(10), 3),
                "agent edge-1 (a1) in region \"eu\" has not been heard from since 2021-02-25T15:02:10.123Z (heartbeat every 10s, 3 missed)",
            ),
            (
                (None, Duration::from_millis(1500), 1),
                "agent edge-1 (a1) in region \"eu\" has not been heard from since its start (heartbeat every 1500ms, 1 missed)",
            ),
        ],
    );
}

#[test]
fn agent_closing_notes_say_when_it_was_heard() {
    check(
        |heard: &i64| agent_closing_note(&agent(None), *heard),
        &[
            (
                T0,
                "closed automatically: agent edge-1 (a1) is back, heard from at 2021-02-25T15:02:10.123Z",
            ),
            (
                0,
                "closed automatically: agent edge-1 (a1) is back, heard from at 1970-01-01T00:00:00.000Z",
            ),
        ],
    );
}

#[test]
fn requests_carry_kind_priority_and_links() {
    let failing = [vote("a1", false, Some(503), Some("HTTP 503"), T0)];
    let corrective = service_request(URL, &"web-1".into(), "3", &failing);
    assert_eq!(
        corrective,
        NewRequest {
            name: "[HTTP KO] http://shop.test/health".into(),
            kind: RequestKind::Corrective,
            priority: "3".into(),
            description: describe_failure(URL, &failing),
            equipment_id: Some("web-1".into()),
            url: Some(URL.into()),
        }
    );
    let silent = agent(Some(T0));
    let down = agent_down_request(&silent, Duration::from_secs(10), 3);
    assert_eq!(
        down,
        NewRequest {
            name: "[AGENT DOWN] edge-1".into(),
            kind: RequestKind::Agent,
            priority: DEFAULT_PRIORITY.into(),
            description: describe_agent_down(&silent, Duration::from_secs(10), 3),
            equipment_id: None,
            url: None,
        }
    );
}
