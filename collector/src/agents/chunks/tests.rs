use picket_proto::contract::limits::MAX_ASSIGNMENT_PART_CHECKS;

use super::*;

pub(crate) fn spec(i: usize) -> CheckSpec {
    CheckSpec {
        id: format!("svc-{i:06}").into(),
        url: format!("http://127.0.0.1:9/{i}"),
        method: "GET".into(),
        headers: Default::default(),
        basic_auth: None,
        expected_status: vec![200],
        body_contains: None,
        follow_redirects: false,
        max_redirects: 0,
        timeout_ms: 5000,
        interval_ms: 60_000,
        max_body_bytes: 1024,
        reuse_connections: false,
    }
}

#[test]
fn a_digest_ignores_order_and_sees_any_change() {
    let set: Vec<Arc<CheckSpec>> = (0..100).map(|i| Arc::new(spec(i))).collect();
    let mut reversed = set.clone();
    reversed.reverse();
    assert_eq!(digest(&set), digest(&reversed));
    let mut changed = set.clone();
    Arc::make_mut(&mut changed[40]).interval_ms += 1;
    assert_ne!(digest(&set), digest(&changed));
    assert_ne!(digest(&set), digest(&set[..99]));
    assert_ne!(digest(&[]), 0, "0 means no digest");
}

#[test]
fn a_diff_lists_added_changed_and_removed_checks_only() {
    let old: Vec<Arc<CheckSpec>> = (0..10).map(|i| Arc::new(spec(i))).collect();
    let mut new: Vec<Arc<CheckSpec>> = (1..11).map(|i| Arc::new(spec(i))).collect();
    Arc::make_mut(&mut new[2]).url = "http://127.0.0.1:9/changed".into();
    let (changed, removed) = diff(&old, &new);
    let ids: Vec<&str> = changed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["svc-000003", "svc-000010"]);
    assert_eq!(removed, [ServiceId::from("svc-000000")]);
    assert_eq!(diff(&new, &new), (vec![], vec![]));
}

#[test]
fn a_full_set_of_300k_checks_is_cut_by_count_and_bytes_and_marked_last() {
    let set: Vec<Arc<CheckSpec>> = (0..300_000).map(|i| Arc::new(spec(i))).collect();
    let parts = full(1, &set, 77);
    assert_eq!(parts.iter().map(|p| p.checks.len()).sum::<usize>(), 300_000);
    assert!(parts.iter().all(|p| p.generation == 1 && p.digest == 77));
    assert!(
        parts
            .iter()
            .all(|p| p.checks.len() <= MAX_ASSIGNMENT_PART_CHECKS)
    );
    let last: Vec<bool> = parts.iter().map(|p| p.last).collect();
    assert_eq!(last.iter().filter(|l| **l).count(), 1);
    assert_eq!(last.last(), Some(&true));

    // Large checks: the byte budget cuts before the count does.
    let big: Vec<Arc<CheckSpec>> = (0..3000)
        .map(|i| {
            Arc::new(CheckSpec {
                url: format!("http://127.0.0.1:9/{}", "x".repeat(2000)),
                ..spec(i)
            })
        })
        .collect();
    let parts = full(1, &big, 1);
    assert!(parts.len() >= 6, "{} parts", parts.len());
    for p in &parts {
        let bytes: usize = p.checks.iter().map(|c| encoded_bound(c)).sum();
        assert!(bytes <= MAX_ASSIGNMENT_PART_BYTES, "{bytes}");
    }
}

#[test]
fn an_empty_update_is_one_last_part() {
    let parts = full(1, &[], 5);
    assert_eq!(parts.len(), 1);
    assert!(parts[0].last && parts[0].checks.is_empty());
    let parts = delta(4, vec![], vec!["a".into()], 5);
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].kind, AssignmentKind::Delta { base: 3 });
}
