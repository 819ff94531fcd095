//! One request per root cause: a host going down with ten services opens
//! one `[HOST KO]` (none per service) and closes it with one note; a lone
//! failure on another equipment in the same window still gets its own
//! `[HTTP KO]`; every service failing at once opens one `[MONITORING KO]`
//! and nothing else; a restart keeps the host request.

use std::time::Duration;

use picket_e2e::Config;
use picket_e2e::config::Service;
use picket_e2e::inproc::{Harness, Outcome, ScriptedAgent};

use crate::common::one_equipment;

picket_e2e::store_scenarios!(
    a_host_going_down_with_ten_services_opens_one_host_request,
    every_agent_failing_everything_opens_one_monitoring_request,
);

const RECHECK_DELAY: Duration = Duration::from_secs(2);
/// One round window: `recheck_delay` 2 s + `recheck_timeout` (10 s + 2 s).
const WINDOW: Duration = Duration::from_secs(14);

fn id(eq: &str, n: usize) -> String {
    format!("{eq}-s{n}")
}

/// [`one_equipment`] with the longest leader lease: its renewals run on
/// PostgreSQL in real time while the test jumps a window at once, and a
/// renewal due within the jump would find its lease ended.
fn base() -> Config {
    one_equipment().collector("leader_lease", "300s")
}

/// `web-1` with ten services, `db-1` with three (so that eleven down of
/// thirteen stays below `monitoring_down_ratio`).
fn host_config() -> Config {
    let mut c = base().equipment("db-1", "Database 1");
    for n in 0..10 {
        let s = id("web-1", n);
        c = c.service(Service::new(&s, "web-1", &format!("http://{s}.test/")));
    }
    for n in 0..3 {
        let s = id("db-1", n);
        c = c.service(Service::new(&s, "db-1", &format!("http://{s}.test/")));
    }
    c
}

/// `n` equipments `eq0`.. of `per` services each.
fn many(n: usize, per: usize) -> Config {
    let mut c = base();
    for e in 0..n {
        let eq = format!("eq{e}");
        c = c.equipment(&eq, &format!("Equipment {e}"));
        for k in 0..per {
            let s = id(&eq, k);
            c = c.service(Service::new(&s, &eq, &format!("http://{s}.test/")));
        }
    }
    c
}

/// Every service reports `outcome`, then the recheck rounds confirm it.
async fn round(
    h: &Harness,
    a: &mut ScriptedAgent,
    services: &[String],
    outcome: &Outcome,
) -> anyhow::Result<()> {
    for s in services {
        a.report(s, outcome).await?;
    }
    h.advance(RECHECK_DELAY).await;
    for _ in services {
        let order = a.order().await?;
        a.answer(&order, outcome).await?;
    }
    Ok(())
}

/// Waits until every one of `services` is in `state`.
async fn all_in(h: &Harness, services: &[String], state: &str) -> anyhow::Result<()> {
    for s in services {
        h.wait_state(s, state).await?;
    }
    Ok(())
}

async fn a_host_going_down_with_ten_services_opens_one_host_request() -> anyhow::Result<()> {
    let mut h = Harness::start(&host_config()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let web: Vec<String> = (0..10).map(|n| id("web-1", n)).collect();
    let lone = id("db-1", 0);
    let mut failing = web.clone();
    failing.push(lone.clone());
    round(&h, &mut a, &failing, &Outcome::status(503)).await?;
    all_in(&h, &failing, "down").await?;
    assert!(
        h.requests().await?.is_empty(),
        "a request opened before the grouping window ended"
    );

    h.advance(WINDOW).await;
    let s = h
        .wait_service(&web[0], "linked to a request", |s| s.open_request.is_some())
        .await?;
    let host = s.open_request.expect("checked above");
    let own = h
        .wait_service(&lone, "its own request", |s| s.open_request.is_some())
        .await?
        .open_request
        .expect("checked above");
    for s in &web {
        assert_eq!(h.service(s).await?.open_request, Some(host), "{s}");
    }
    let requests = h.requests().await?;
    assert_eq!(requests.len(), 2, "{requests:?}");
    let r = h.request(host).await?;
    assert_eq!(
        (r.name.as_str(), r.kind.as_str()),
        ("[HOST KO] Web server 1", "host")
    );
    for s in &web {
        assert!(
            r.description
                .contains(&format!("- {s} (http://{s}.test/): HTTP 503")),
            "{}",
            r.description
        );
    }
    let lone_request = h.request(own).await?;
    assert_eq!(lone_request.name, format!("[HTTP KO] http://{lone}.test/"));
    assert_eq!(lone_request.kind, "corrective");
    let opened = h.await_event("request.opened", |b| b["id"] == host).await?;
    assert_eq!(opened["kind"], "host");
    assert_eq!(opened["services"].as_array().map(Vec::len), Some(10));

    // A restart in the middle keeps the host request: no duplicate.
    h.restart().await?;
    a.closed().await?;
    let mut a = h
        .reconnect(&a.identity().clone())
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    a.assignment().await?;
    assert_eq!(h.service(&web[3]).await?.open_request, Some(host));
    h.advance(WINDOW).await;
    assert_eq!(
        h.requests().await?.len(),
        2,
        "a request opened after the restart"
    );

    // They come back: one close, with a note listing each one's downtime.
    round(&h, &mut a, &web, &Outcome::ok()).await?;
    let log = h
        .events_until("request.closed", |b| b["id"] == host)
        .await?;
    let count = |kind: &str| log.iter().filter(|(t, _)| t == kind).count();
    assert_eq!(count("request.opened"), 2, "host + lone only: {log:?}");
    assert_eq!(count("service.down"), 11);
    assert_eq!(count("service.up"), 10);
    let closed = h.request(host).await?;
    assert_eq!(
        (closed.stage.as_str(), closed.close_reason.as_str()),
        ("done", "recovered")
    );
    let note = &closed.notes.last().expect("a closing note").text;
    assert!(
        note.starts_with("closed automatically: every service is back up"),
        "{note}"
    );
    for s in &web {
        assert!(
            note.contains(&format!("- {s} (http://{s}.test/): down ")),
            "{note}"
        );
    }
    Ok(())
}

async fn every_agent_failing_everything_opens_one_monitoring_request() -> anyhow::Result<()> {
    let h = Harness::start(&many(5, 10)).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    let mut b = h.agent("edge-2", "ap").await?;
    a.assignment().await?;
    b.assignment().await?;
    let all: Vec<String> = (0..5)
        .flat_map(|e| (0..10).map(move |k| id(&format!("eq{e}"), k)))
        .collect();
    let fail = Outcome::refused();
    for s in &all {
        a.report(s, &fail).await?;
        b.report(s, &fail).await?;
    }
    h.advance(RECHECK_DELAY).await;
    for _ in &all {
        let order = a.order().await?;
        a.answer(&order, &fail).await?;
        let order = b.order().await?;
        b.answer(&order, &fail).await?;
    }
    all_in(&h, &all, "down").await?;
    h.advance(WINDOW).await;
    let s = h
        .wait_service(&all[0], "linked to a request", |s| s.open_request.is_some())
        .await?;
    let id = s.open_request.expect("checked above");
    let requests = h.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!(r.kind, "monitoring");
    assert!(
        r.name.starts_with("[MONITORING KO] collector "),
        "{}",
        r.name
    );
    assert!(
        r.description
            .starts_with("50 of 50 active services on 5 equipments"),
        "{}",
        r.description
    );
    for s in &all {
        assert_eq!(h.service(s).await?.open_request, Some(id), "{s}");
    }

    // Back up: the share falls below the ratio and it closes, nothing else
    // opened.
    for s in &all {
        a.report(s, &Outcome::ok()).await?;
    }
    h.advance(RECHECK_DELAY).await;
    for _ in &all {
        let order = a.order().await?;
        a.answer(&order, &Outcome::ok()).await?;
        let order = b.order().await?;
        b.answer(&order, &Outcome::ok()).await?;
    }
    let log = h.events_until("request.closed", |b| b["id"] == id).await?;
    let opened = log.iter().filter(|(t, _)| t == "request.opened").count();
    assert_eq!(opened, 1, "{log:?}");
    let closed = h.request(id).await?;
    assert_eq!(closed.close_reason, "recovered");
    all_in(&h, &all, "up").await?;
    assert_eq!(h.requests().await?.len(), 1);
    Ok(())
}
