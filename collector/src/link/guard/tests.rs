//! The session's policy, table by table, on made-up instants.

use super::*;
use crate::domain::ProbeOutcome;

fn result(seq: u64, service: &str) -> ProbeResult {
    ProbeResult {
        seq,
        service: service.into(),
        round_id: 0,
        started_at_ms: 0,
        outcome: ProbeOutcome {
            ok: true,
            status_code: Some(200),
            error_kind: None,
            error: None,
            duration_us: 1,
            phases: Default::default(),
            cert_not_after_ms: None,
        },
    }
}

fn known(s: &ServiceId) -> bool {
    ["shop", "blog", "api"].contains(&s.as_str())
}

/// A guard past its start-up grace, assigned `shop` only.
fn settled(committed: u64) -> (Guard, Instant) {
    let start = Instant::now();
    let mut g = Guard::new(committed, start);
    g.assigned(["shop".into()], start);
    (g, start + REASSIGNMENT_GRACE)
}

#[test]
fn results_for_checks_not_assigned_are_dropped_past_the_grace() {
    let (mut g, now) = settled(0);
    assert_eq!(g.judge(&result(1, "shop"), known, now), Judged::Accept);
    assert_eq!(
        g.judge(&result(2, "blog"), known, now),
        Judged::Drop(Reason::UnassignedCheck)
    );
    assert_eq!(
        g.judge(&result(3, "nope"), known, now),
        Judged::Drop(Reason::UnknownCheck)
    );
}

#[test]
fn a_new_session_takes_any_configured_check_during_its_grace() {
    let start = Instant::now();
    let mut g = Guard::new(0, start);
    g.assigned(["shop".into()], start);
    let almost = start + REASSIGNMENT_GRACE - Duration::from_millis(1);
    assert_eq!(g.judge(&result(1, "blog"), known, almost), Judged::Accept);
    // A check that does not exist is never taken.
    assert_eq!(
        g.judge(&result(2, "nope"), known, start),
        Judged::Drop(Reason::UnknownCheck)
    );
}

#[test]
fn a_check_just_taken_away_is_still_taken_for_a_while() {
    let (mut g, now) = settled(0);
    g.assigned(["blog".into()], now);
    let later = now + REASSIGNMENT_GRACE - Duration::from_millis(1);
    assert_eq!(g.judge(&result(1, "shop"), known, later), Judged::Accept);
    assert_eq!(
        g.judge(&result(2, "shop"), known, now + REASSIGNMENT_GRACE),
        Judged::Drop(Reason::UnassignedCheck)
    );
    // Given back, it is assigned again at once.
    g.assigned(["shop".into(), "blog".into()], now + REASSIGNMENT_GRACE);
    assert_eq!(
        g.judge(&result(3, "shop"), known, now + REASSIGNMENT_GRACE * 9),
        Judged::Accept
    );
}

#[test]
fn sequence_numbers_replay_idempotently_but_never_go_back_in_a_session() {
    let (mut g, now) = settled(10);
    // Replays of committed results: the store ignores them, ingest acks.
    assert_eq!(g.judge(&result(9, "shop"), known, now), Judged::Accept);
    assert_eq!(g.judge(&result(10, "shop"), known, now), Judged::Accept);
    assert_eq!(g.judge(&result(12, "shop"), known, now), Judged::Accept);
    assert_eq!(
        g.judge(&result(12, "shop"), known, now),
        Judged::Drop(Reason::SeqBackwards)
    );
    assert_eq!(
        g.judge(&result(11, "shop"), known, now),
        Judged::Drop(Reason::SeqBackwards)
    );
    assert_eq!(g.judge(&result(13, "shop"), known, now), Judged::Accept);
    // A committed replay after new results is still a replay.
    assert_eq!(g.judge(&result(5, "shop"), known, now), Judged::Accept);
}

#[test]
fn an_absurd_jump_refuses_the_stream() {
    let (mut g, now) = settled(10);
    let edge = 10 + MAX_SEQ_JUMP;
    assert_eq!(g.judge(&result(edge, "shop"), known, now), Judged::Accept);
    let Judged::Refuse(why) = g.judge(&result(2 * edge + 1, "shop"), known, now) else {
        panic!("an absurd jump was taken")
    };
    assert_eq!(
        why,
        format!(
            "result seq {} jumps more than 4294967296 past {edge}, the highest seen",
            2 * edge + 1
        )
    );
    assert!(matches!(
        g.judge(&result(u64::MAX, "shop"), known, now),
        Judged::Refuse(_)
    ));
}

#[test]
fn each_reason_is_logged_once_per_session() {
    let (mut g, _) = settled(0);
    assert!(g.first(Reason::UnassignedCheck));
    assert!(!g.first(Reason::UnassignedCheck));
    assert!(g.first(Reason::SeqBackwards));
}

#[test]
fn reasons_have_stable_metric_labels() {
    let labels: Vec<&str> = [
        Reason::TooLarge,
        Reason::BadHello,
        Reason::NoHello,
        Reason::HelloTimeout,
        Reason::SecondHello,
        Reason::Malformed,
        Reason::InvalidResult,
        Reason::UnknownCheck,
        Reason::UnassignedCheck,
        Reason::SeqBackwards,
        Reason::SeqJump,
    ]
    .into_iter()
    .map(Reason::as_str)
    .collect();
    assert_eq!(
        labels,
        [
            "too_large",
            "bad_hello",
            "no_hello",
            "hello_timeout",
            "second_hello",
            "malformed",
            "invalid_result",
            "unknown_check",
            "unassigned_check",
            "seq_backwards",
            "seq_jump"
        ]
    );
}
