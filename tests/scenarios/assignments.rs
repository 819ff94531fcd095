//! Assignments in parts and as changes, through the real collector: the
//! first set comes whole in parts under the link's limit, a changed
//! service is a delta of one check, a removed one a removal, and after a
//! collector restart an agent that claims the same set gets "unchanged"
//! instead of the set again (and one that claims another gets it whole).

use picket_e2e::Config;
use picket_e2e::config::Service;
use picket_e2e::inproc::Harness;
use picket_proto::contract::limits::MAX_LINK_MESSAGE_BYTES;

/// More checks than one part holds (5000).
const N: usize = 6000;

fn config(n: usize, changed: Option<usize>) -> Config {
    let mut c = crate::common::one_equipment();
    for i in 0..n {
        let path = if changed == Some(i) { "v2" } else { "v1" };
        c = c.service(Service::new(
            &format!("svc-{i:05}"),
            "web-1",
            &format!("http://svc-{i}.test/{path}"),
        ));
    }
    c
}

#[tokio::test]
async fn after_the_full_set_in_parts_only_changes_go_out_and_a_same_set_reconnect_gets_unchanged()
-> anyhow::Result<()> {
    let mut h = Harness::start(&config(N, None)).await?;
    let mut agent = h.agent("edge-1", "eu").await?;
    let full = agent.update().await?;
    assert_eq!(
        (full.kind, full.size, full.parts),
        ("full", N, 2),
        "{full:?}"
    );
    assert!(full.largest_part < MAX_LINK_MESSAGE_BYTES / 4, "{full:?}");

    h.rewrite(&config(N, Some(7)))?;
    assert!(h.reload().await?.ok);
    let changed = agent.update().await?;
    assert_eq!(changed.kind, "delta");
    assert_eq!(changed.checks, ["svc-00007"]);
    assert!(changed.removed.is_empty());

    h.rewrite(&config(N - 1, Some(7)))?;
    assert!(h.reload().await?.ok);
    let removed = agent.update().await?;
    assert_eq!(removed.kind, "delta");
    assert!(removed.checks.is_empty());
    assert_eq!(removed.removed, [format!("svc-{:05}", N - 1)]);
    assert_eq!(removed.size, N - 1);

    // The collector restarts with the same services: the agent's digest
    // matches, so nothing is sent again.
    let identity = agent.identity().clone();
    h.restart().await?;
    agent.closed().await?;
    let mut same = h
        .reconnect_with_digest(&identity, removed.digest)
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    let kept = same.update().await?;
    assert_eq!(
        (kept.kind, kept.parts, kept.digest),
        ("unchanged", 1, removed.digest)
    );
    assert!(kept.bytes < 100, "{kept:?}");

    h.restart().await?;
    same.closed().await?;
    let mut other = h
        .reconnect_with_digest(&identity, removed.digest ^ 1)
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    let again = other.update().await?;
    assert_eq!((again.kind, again.size), ("full", N - 1));
    Ok(())
}
