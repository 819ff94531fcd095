use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{ProbeTable, View};
use crate::agents::directory::{Directory, DownlinkTx, LinkHandle};
use crate::config::ProbeSeries;
use crate::domain::{Phases, ProbeOutcome, ServiceId};
use crate::metrics::Published;
use crate::metrics::board::Catalog;
use crate::metrics::chunks::Chunks;
use crate::metrics::exposition::Format;

fn outcome(ok: bool, duration_us: u64, cert: Option<i64>) -> ProbeOutcome {
    ProbeOutcome {
        ok,
        status_code: Some(if ok { 200 } else { 503 }),
        error_kind: None,
        error: None,
        duration_us,
        phases: Phases {
            dns_us: Some(1000),
            connect_us: None,
            tls_us: Some(12_000),
            processing_us: Some(16_100),
            transfer_us: Some(2000),
        },
        cert_not_after_ms: cert,
    }
}

/// "shop" assigned to a1 (edge-1, eu) and a2 (edge-2, ap); "gone" is not
/// in the catalog.
fn fixture() -> (Catalog, Published) {
    let link = |id: &str, name: &str, region: &str| {
        let (tx, _rx) = DownlinkTx::channel(1);
        (
            id.into(),
            LinkHandle {
                id: id.into(),
                name: name.into(),
                region: region.into(),
                tx,
            },
        )
    };
    let directory = Directory {
        agents: HashMap::from([link("a1", "edge-1", "eu"), link("a2", "edge-2", "ap")]),
        by_service: HashMap::from([("shop".into(), vec!["a1".into(), "a2".into()])]),
        services: Arc::new(HashSet::new()),
    };
    let catalog = Catalog {
        generation: 1,
        equipment: vec!["rack".into()],
        of: [("shop".into(), 0)].into_iter().collect(),
    };
    let published = Published {
        directory: Arc::new(directory),
        dead: Default::default(),
        generation: 1,
    };
    (catalog, published)
}

fn render(t: &ProbeTable, mode: ProbeSeries) -> String {
    let (catalog, published) = fixture();
    render_against(t, mode, &catalog, &published)
}

fn render_against(
    t: &ProbeTable,
    mode: ProbeSeries,
    catalog: &Catalog,
    published: &Published,
) -> String {
    let mut text = Vec::new();
    let mut send = |chunk: Vec<u8>| {
        text.extend_from_slice(&chunk);
        Ok(())
    };
    let mut out = Chunks::new(usize::MAX, &mut send);
    let view = View::new(t, catalog, published);
    t.write(Format::Text, mode, &view, &mut out).unwrap();
    out.finish().unwrap();
    String::from_utf8(text).unwrap()
}

#[test]
fn keeps_the_newest_probe_of_each_agent_and_writes_blackbox_gauges() {
    let t = ProbeTable::default();
    let shop = ServiceId::from("shop");
    t.record(
        &shop,
        &"a1".into(),
        2000,
        &outcome(true, 32_100, Some(1_798_848_000_500)),
    );
    t.record(&shop, &"a1".into(), 1000, &outcome(false, 9, None));
    t.record(&shop, &"a2".into(), 1500, &outcome(false, 5000, None));
    t.record(&shop, &"a3".into(), 3000, &outcome(false, 5000, None));
    t.record(
        &"gone".into(),
        &"a1".into(),
        3000,
        &outcome(false, 5000, None),
    );
    let text = render(&t, ProbeSeries::Agent);
    let l1 = r#"service="shop",equipment="rack",agent="edge-1",region="eu""#;
    let l2 = r#"service="shop",equipment="rack",agent="edge-2",region="ap""#;
    for line in [
        format!("probe_success{{{l1}}} 1"),
        format!("probe_duration_seconds{{{l1}}} 0.0321"),
        format!("probe_http_status_code{{{l1}}} 200"),
        format!(r#"probe_http_duration_seconds{{{l1},phase="resolve"}} 0.001"#),
        format!(r#"probe_http_duration_seconds{{{l1},phase="connect"}} 0"#),
        format!(r#"probe_http_duration_seconds{{{l1},phase="processing"}} 0.0161"#),
        format!("probe_ssl_earliest_cert_expiry{{{l1}}} 1798848000"),
        format!("probe_success{{{l2}}} 0"),
        format!("probe_http_status_code{{{l2}}} 503"),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
    assert!(
        !text.contains(&format!("probe_ssl_earliest_cert_expiry{{{l2}}}")),
        "{text}"
    );
    assert!(
        !text.contains("a3") && !text.contains("gone"),
        "unassigned or removed: {text}"
    );
    assert_eq!(text.matches("# TYPE probe_success gauge").count(), 1);
}

#[test]
fn per_service_mode_writes_the_newest_probe_without_agent_labels() {
    let t = ProbeTable::default();
    let shop = ServiceId::from("shop");
    t.record(&shop, &"a1".into(), 1000, &outcome(true, 1000, None));
    t.record(&shop, &"a2".into(), 2000, &outcome(false, 2000, None));
    let text = render(&t, ProbeSeries::Service);
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("probe_success{"))
        .collect();
    assert_eq!(
        series,
        [r#"probe_success{service="shop",equipment="rack"} 0"#]
    );
    assert!(!text.contains("agent="), "{text}");
}

#[test]
fn rows_follow_new_agents_a_new_directory_and_a_new_catalog() {
    let t = ProbeTable::default();
    let shop = ServiceId::from("shop");
    let (catalog, published) = fixture();
    let has = |text: &str, agent: &str| {
        text.lines()
            .any(|l| l.starts_with("probe_success{") && l.contains(agent))
    };
    t.record(&shop, &"a1".into(), 1000, &outcome(true, 1000, None));
    let text = render_against(&t, ProbeSeries::Agent, &catalog, &published);
    assert!(has(&text, "edge-1") && !has(&text, "edge-2"), "{text}");
    // A new agent's probe, same generations: the row is resolved again.
    t.record(&shop, &"a2".into(), 1000, &outcome(true, 1000, None));
    let text = render_against(&t, ProbeSeries::Agent, &catalog, &published);
    assert!(has(&text, "edge-1") && has(&text, "edge-2"), "{text}");
    // A new directory without a1 for shop.
    let mut directory = (*published.directory).clone();
    directory.by_service.insert(shop.clone(), vec!["a2".into()]);
    let republished = Published {
        directory: Arc::new(directory),
        dead: Default::default(),
        generation: 2,
    };
    let text = render_against(&t, ProbeSeries::Agent, &catalog, &republished);
    assert!(!has(&text, "edge-1") && has(&text, "edge-2"), "{text}");
    // A catalog without shop: no series, and the row is gone.
    let empty = Catalog {
        generation: 2,
        ..Catalog::default()
    };
    let text = render_against(&t, ProbeSeries::Agent, &empty, &republished);
    assert!(!text.contains("shop"), "{text}");
    let text = render_against(&t, ProbeSeries::Agent, &catalog, &republished);
    assert!(!text.contains("shop"), "dropped, not just hidden: {text}");
}
