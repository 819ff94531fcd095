//! Assignment parts through the real link actor: 300k checks in parts
//! reach the scheduler whole and fast; a partial set stops nothing; a
//! delta on the wrong generation ends the session; the Hello names the
//! digest of the last set completed.

use std::time::Instant;

use picket_proto::prost::Message as _;

use super::*;

fn check(i: usize, interval_ms: u64) -> pb::Check {
    pb::Check {
        id: format!("svc-{i:06}"),
        url: format!("http://127.0.0.1:9/{i}"),
        interval_ms,
        ..Default::default()
    }
}

fn part(
    generation: u64,
    kind: pb::AssignmentKind,
    checks: Vec<pb::Check>,
    last: bool,
) -> pb::Assignment {
    pb::Assignment {
        checks,
        generation,
        kind: kind.into(),
        last,
        digest: 100 + generation,
        ..Default::default()
    }
}

fn quick_welcome(agent_id: &str) -> Down {
    Down::Welcome(pb::Welcome {
        agent_id: agent_id.into(),
        state: "active".into(),
        heartbeat_interval_ms: 50,
        ..Default::default()
    })
}

/// Waits for a heartbeat that reports `n` checks assigned.
async fn assigned(s: &mut Session, n: u32) {
    loop {
        if let Up::Heartbeat(hb) = s.next().await
            && hb.stats.is_some_and(|st| st.checks_assigned == n)
        {
            return;
        }
    }
}

/// Every check of 60 parts is assigned and the digest kept. How fast is a
/// figure of `bench/scale.sh` (a release build, 300k checks), not a bound
/// here: a debug build sharing 2 cores with the rest of the suite took
/// from 5 to 21 s.
#[tokio::test]
async fn three_hundred_thousand_checks_in_parts_are_all_assigned() {
    let mut h = Harness::start(vec![]).await;
    let s = h.session().await;
    s.send(quick_welcome(&h.agent_id)).await;
    let parts: Vec<pb::Assignment> = (0..60)
        .map(|p| {
            let checks = (p * 5000..(p + 1) * 5000)
                .map(|i| check(i, 3_600_000))
                .collect();
            part(1, pb::AssignmentKind::Full, checks, p == 59)
        })
        .collect();
    let sizes: Vec<usize> = parts.iter().map(|p| p.encoded_len()).collect();
    let largest = sizes.iter().copied().max().unwrap();
    assert!(
        largest < picket_proto::contract::limits::MAX_LINK_MESSAGE_BYTES / 4,
        "{largest}"
    );
    let start = Instant::now();
    let mut s = s;
    for p in parts {
        s.send(Down::Assignment(p)).await;
    }
    assigned(&mut s, 300_000).await;
    let took = start.elapsed();
    eprintln!(
        "300000 checks in 60 parts ({} bytes, largest {largest}) assigned in {took:?}",
        sizes.iter().sum::<usize>()
    );
    drop(s);
    let s2 = h.session().await;
    assert_eq!(s2.hello.assignment_digest, 101);
}

#[tokio::test]
async fn a_partial_set_stops_nothing_and_a_gap_ends_the_session() {
    let mut h = Harness::start(vec![]).await;
    let mut s1 = h.session().await;
    s1.send(quick_welcome(&h.agent_id)).await;
    s1.send(Down::Assignment(part(
        1,
        pb::AssignmentKind::Full,
        vec![check(1, 1000)],
        true,
    )))
    .await;
    assert!(
        s1.results(1)
            .await
            .iter()
            .all(|r| r.check_id == "svc-000001")
    );
    drop(s1);

    // A new session begins a full set without c1 and never ends it.
    let mut s2 = h.session().await;
    assert_eq!(s2.hello.assignment_digest, 101);
    s2.send(quick_welcome(&h.agent_id)).await;
    s2.send(Down::Assignment(part(
        1,
        pb::AssignmentKind::Full,
        vec![check(2, 1000)],
        false,
    )))
    .await;
    assigned(&mut s2, 1).await;
    let later = s2.results(3).await;
    assert!(
        later.iter().all(|r| r.check_id == "svc-000001"),
        "a partial set was applied: {later:?}"
    );

    // A delta on a generation the agent does not have: it reconnects, and
    // still claims the set it completed last.
    let mut gap = part(3, pb::AssignmentKind::Delta, vec![check(3, 1000)], true);
    gap.base_generation = 2;
    s2.send(Down::Assignment(gap)).await;
    let s3 = h.session().await;
    assert_eq!(s3.hello.assignment_digest, 101);
    drop(s2);
}
