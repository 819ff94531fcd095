use std::time::Duration;

use super::*;
use crate::domain::Method;

fn check(i: usize) -> Check {
    Check {
        id: format!("svc-{i}").into(),
        url: format!("http://127.0.0.1:9/{i}"),
        method: Method::Get,
        headers: Default::default(),
        basic_auth: None,
        expected_status: vec![200],
        body_contains: String::new(),
        follow_redirects: false,
        max_redirects: 0,
        timeout: Duration::from_secs(5),
        interval: Duration::from_secs(60),
        max_body_bytes: 1024,
        reuse_connections: false,
    }
}

fn part(generation: u64, kind: PartKind, checks: Vec<Check>, last: bool) -> AssignmentPart {
    AssignmentPart {
        generation,
        kind,
        checks,
        removed: Vec::new(),
        rejected: Vec::new(),
        last,
        digest: 100 + generation,
    }
}

fn ids(set: &[std::sync::Arc<Check>]) -> Vec<String> {
    let mut ids: Vec<String> = set.iter().map(|c| c.id.to_string()).collect();
    ids.sort();
    ids
}

/// 300k checks in 60 parts: nothing is applied before the last part, then
/// all of them at once.
#[test]
fn a_full_set_in_parts_is_applied_only_when_complete() {
    let mut a = Assembly::default();
    let all: Vec<Check> = (0..300_000).map(check).collect();
    let chunks: Vec<Vec<Check>> = all.chunks(5000).map(<[Check]>::to_vec).collect();
    let n = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let got = a.take(part(1, PartKind::Full, chunk, i + 1 == n)).unwrap();
        if i + 1 < n {
            assert_eq!(got, None, "applied after part {i}");
            assert_eq!((a.len(), a.digest()), (0, 0));
        } else {
            assert_eq!(got.map(|s| s.len()), Some(300_000));
        }
    }
    assert_eq!((a.len(), a.digest()), (300_000, 101));
}

/// A session that ends mid-set leaves the previous set untouched, and the
/// next session's Hello names the previous set's digest.
#[test]
fn a_partial_set_is_never_applied() {
    let mut a = Assembly::default();
    a.take(part(1, PartKind::Full, vec![check(1), check(2)], true))
        .unwrap();
    a.start_session();
    let partial = a.take(part(1, PartKind::Full, vec![check(3)], false));
    assert_eq!(partial, Ok(None));
    a.start_session();
    assert_eq!((a.len(), a.digest()), (2, 101));
    let set = a
        .take(part(1, PartKind::Full, vec![check(4)], true))
        .unwrap();
    assert_eq!(ids(&set.unwrap()), ["svc-4"], "the forgotten part is gone");
}

#[test]
fn deltas_apply_on_their_base_only() {
    let mut a = Assembly::default();
    a.take(part(1, PartKind::Full, vec![check(1), check(2)], true))
        .unwrap();
    let mut changed = check(2);
    changed.interval = Duration::from_secs(30);
    let mut delta = part(
        2,
        PartKind::Delta { base: 1 },
        vec![changed.clone(), check(3)],
        true,
    );
    delta.removed = vec!["svc-1".into()];
    let set = a.take(delta).unwrap().unwrap();
    assert_eq!(ids(&set), ["svc-2", "svc-3"]);
    assert!(set.iter().any(|c| **c == changed));
    assert_eq!(a.digest(), 102);

    // Generation 3 went missing: 4 on 3 is a gap, and nothing changes.
    let gap = a.take(part(4, PartKind::Delta { base: 3 }, vec![check(9)], true));
    assert_eq!(
        gap,
        Err(AssemblyError::Gap {
            generation: 4,
            base: 3,
            have: Some(2)
        })
    );
    assert_eq!((a.len(), a.digest()), (2, 102));

    // A new session starts with no generation: a delta first is a gap.
    a.start_session();
    assert!(matches!(
        a.take(part(2, PartKind::Delta { base: 1 }, vec![], true)),
        Err(AssemblyError::Gap { have: None, .. })
    ));
}

#[test]
fn unchanged_keeps_the_set_when_the_digest_is_ours() {
    let mut a = Assembly::default();
    a.take(part(1, PartKind::Full, vec![check(1)], true))
        .unwrap();
    a.start_session();
    let mut keep = part(1, PartKind::Unchanged, vec![], true);
    keep.digest = 101;
    assert_eq!(a.take(keep.clone()), Ok(None));
    assert_eq!(a.len(), 1);
    // Deltas follow on the kept set.
    assert!(
        a.take(part(2, PartKind::Delta { base: 1 }, vec![check(2)], true))
            .is_ok()
    );
    a.start_session();
    assert!(matches!(a.take(keep), Err(AssemblyError::NotOurs { .. })));
}

#[test]
fn an_update_begun_before_the_last_ended_is_refused() {
    let mut a = Assembly::default();
    a.take(part(1, PartKind::Full, vec![check(1)], false))
        .unwrap();
    assert_eq!(
        a.take(part(2, PartKind::Full, vec![check(2)], true)),
        Err(AssemblyError::Interleaved { pending: 1, got: 2 })
    );
}

/// A delta hands the scheduler the same `Arc`s for the checks it did not
/// touch: the set is never copied, only the changed checks are new.
#[test]
fn a_delta_shares_the_untouched_checks_instead_of_copying_them() {
    let mut a = Assembly::default();
    let first = a
        .take(part(1, PartKind::Full, vec![check(1), check(2)], true))
        .unwrap()
        .unwrap();
    let mut delta = part(2, PartKind::Delta { base: 1 }, vec![check(3)], true);
    delta.removed = vec!["svc-2".into()];
    let second = a.take(delta).unwrap().unwrap();
    let find =
        |set: &[std::sync::Arc<Check>], id: &str| set.iter().find(|c| c.id == id).cloned().unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &find(&first, "svc-1"),
        &find(&second, "svc-1")
    ));
    assert_eq!(ids(&second), ["svc-1", "svc-3"]);
}
