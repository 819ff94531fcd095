//! Assignment updates through the registry: a full set first, then only
//! changes; a reconnect whose digest matches gets "unchanged"; a session
//! that lost a part is never pushed to again.

use std::sync::Arc;

use super::*;
use crate::agents::chunks;
use crate::domain::CheckSpec;

/// The test settings with `n` copies of the configured service.
fn with_services(h: &Harness, n: usize) -> RegistrySettings {
    let mut settings = h.bench.settings.registry.clone();
    let template = settings.services[0].clone();
    settings.services = (0..n)
        .map(|i| {
            let mut s = template.clone();
            s.id = format!("svc-{i:06}").into();
            let check = Arc::make_mut(&mut s.check);
            check.id = s.id.clone();
            check.url = format!("http://127.0.0.1:9/{i}");
            s
        })
        .collect::<Vec<_>>()
        .into();
    settings
}

fn kinds(u: &Update) -> Vec<&AssignmentKind> {
    u.parts.iter().map(|p| &p.kind).collect()
}

#[tokio::test(start_paused = true)]
async fn after_the_full_set_a_changed_service_is_a_delta_of_one_check() {
    let h = start().await;
    h.agents.reconfigure(with_services(&h, 12_000)).await;
    let mut a1 = h.connect(hello("a1"), 64).await.expect("a1");
    let full = a1.update().await;
    assert_eq!(full.set.len(), 12_000);
    assert!(
        full.parts.len() >= 3,
        "12k checks in {} parts",
        full.parts.len()
    );
    assert!(kinds(&full).iter().all(|k| **k == AssignmentKind::Full));

    let mut settings = with_services(&h, 12_000);
    Arc::make_mut(&mut Arc::make_mut(&mut settings.services)[7].check).interval_ms += 1000;
    h.agents.reconfigure(settings.clone()).await;
    let changed = a1.update().await;
    assert_eq!(changed.parts.len(), 1);
    let part = &changed.parts[0];
    assert_eq!(part.kind, AssignmentKind::Delta { base: 1 });
    assert_eq!(part.generation, 2);
    let ids: Vec<&str> = part.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!((ids, part.removed.len()), (vec!["svc-000007"], 0));

    Arc::make_mut(&mut settings.services).remove(3);
    h.agents.reconfigure(settings.clone()).await;
    let removed = a1.update().await;
    let part = &removed.parts[0];
    assert_eq!(part.kind, AssignmentKind::Delta { base: 2 });
    assert!(part.checks.is_empty());
    assert_eq!(part.removed, [ServiceId::from("svc-000003")]);
    assert_eq!(removed.set.len(), 11_999);
    let checks: Vec<Arc<CheckSpec>> = settings.services.iter().map(|s| s.check.clone()).collect();
    assert_eq!(part.digest, chunks::digest(&checks));

    // Nothing changed: nothing is sent.
    h.agents.reconfigure(settings).await;
    assert!(a1.downlink.try_recv().is_err(), "an update with no change");
}

#[tokio::test(start_paused = true)]
async fn a_reconnect_with_the_same_digest_gets_unchanged_and_another_the_full_set() {
    let h = start().await;
    h.agents.reconfigure(with_services(&h, 100)).await;
    let mut a1 = h.connect(hello("a1"), 64).await.expect("a1");
    let full = a1.update().await;
    let digest = full.parts.last().expect("a part").digest;
    let credential = a1.welcome.credential.clone().expect("issued");
    h.agents.gone("a1".into(), a1.welcome.session).await;

    let mut again = hello("a1");
    again.credential = credential.clone();
    again.assignment_digest = Some(digest);
    let mut a1 = h.connect(again, 64).await.expect("a1 again");
    let update = a1.update().await;
    assert_eq!(update.parts.len(), 1);
    assert!(update.parts[0].checks.is_empty());
    assert!(matches!(&update.parts[0].kind, AssignmentKind::Unchanged { ids } if ids.len() == 100));
    assert_eq!(update.parts[0].digest, digest);
    h.agents.gone("a1".into(), a1.welcome.session).await;

    let mut stale = hello("a1");
    stale.credential = credential;
    stale.assignment_digest = Some(digest ^ 1);
    let mut a1 = h.connect(stale, 64).await.expect("a1 stale");
    let update = a1.update().await;
    assert!(kinds(&update).iter().all(|k| **k == AssignmentKind::Full));
    assert_eq!(update.set.len(), 100);
}

#[tokio::test(start_paused = true)]
async fn a_session_that_lost_a_part_gets_nothing_more() {
    let h = start().await;
    // 12k checks take three parts; the downlink holds two.
    h.agents.reconfigure(with_services(&h, 12_000)).await;
    let (tx, mut downlink) = DownlinkTx::channel(2);
    let cancel = CancellationToken::new();
    soon("a welcome", h.agents.hello(hello("a1"), tx, cancel.clone()))
        .await
        .expect("welcome");
    soon("the session's cancellation", cancel.cancelled()).await;
    let mut settings = with_services(&h, 12_000);
    Arc::make_mut(&mut Arc::make_mut(&mut settings.services)[0].check).interval_ms += 1;
    h.agents.reconfigure(settings).await;
    let mut parts = Vec::new();
    while let Ok(Downlink::Assignment(p)) = downlink.try_recv() {
        parts.push(p);
    }
    assert_eq!(parts.len(), 2, "the parts that fit, and no delta after");
    assert!(parts.iter().all(|p| p.generation == 1 && !p.last));
}
