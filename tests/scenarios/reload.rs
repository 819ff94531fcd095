//! Configuration reload while scripted agents stay connected: services
//! added, removed, changed, paused and resumed; a refused file; tokens and
//! webhooks changed live. Every scenario checks that no agent reconnected
//! (`picket_agent_connections_total` does not move and every stream still
//! answers).

use std::time::Duration;

use picket_e2e::config::{Service, Webhook};
use picket_e2e::inproc::{Harness, Outcome, ScriptedAgent, with_token};
use picket_e2e::{Config, WebhookSink};
use picket_proto::v1 as api;

const RECHECK_DELAY: Duration = Duration::from_secs(2);
const WAIT: Duration = picket_e2e::inproc::WAIT;
const CONNECTIONS: &str = "picket_agent_connections_total";

/// A service probed from `region` only.
fn service(id: &str, region: &str) -> Service {
    Service::new(id, "web-1", &format!("http://{id}.test/")).set("regions", [region])
}

/// With a 1 s `host_grouping_window`: a service confirmed down gets its
/// request a second later (its equipment has others that could follow).
fn base() -> Config {
    crate::common::one_equipment().defaults("host_grouping_window", "1s")
}

/// Three agents' regions: `shop` and `news` in eu, `blog` in us, `docs` in
/// ap (an agent whose checks never change).
fn before() -> Config {
    base()
        .service(service("shop", "eu"))
        .service(service("news", "eu"))
        .service(service("blog", "us"))
        .service(service("docs", "ap"))
}

/// `agent`'s next assignment, sorted.
async fn assignment(agent: &mut ScriptedAgent) -> anyhow::Result<Vec<String>> {
    let mut ids = agent.assignment().await?;
    ids.sort();
    Ok(ids)
}

/// Confirms `service` down with one open request (its only agent fails
/// the probe and the recheck); returns the request id.
async fn down(h: &Harness, agent: &mut ScriptedAgent, service: &str) -> anyhow::Result<i64> {
    agent.report(service, &Outcome::status(503)).await?;
    h.wait_state(service, "suspect").await?;
    h.advance(RECHECK_DELAY).await;
    let order = agent.order().await?;
    agent.answer(&order, &Outcome::status(503)).await?;
    // Its equipment has other services: its request opens at the end of
    // the grouping window, if no host request takes it.
    h.wait_state(service, "down").await?;
    h.advance(Duration::from_secs(1)).await;
    let s = h
        .wait_service(service, &format!("{service} down with a request"), |s| {
            s.state == "down" && s.open_request.is_some()
        })
        .await?;
    Ok(s.open_request.expect("checked above"))
}

/// `agent` got no new assignment: it reports `service` and its ack comes
/// back with no assignment queued before it (the downlink is in order).
async fn nothing_new(agent: &mut ScriptedAgent, service: &str) -> anyhow::Result<()> {
    agent.report(service, &Outcome::ok()).await?;
    assert_eq!(
        agent.unread_assignments(),
        Vec::<Vec<String>>::new(),
        "agent {} got a new assignment",
        agent.id()
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn services_added_removed_changed_and_paused_without_dropping_agents() -> anyhow::Result<()> {
    let mut h = Harness::start(&before()).await?;
    let mut eu = h.agent("edge-eu", "eu").await?;
    let mut us = h.agent("edge-us", "us").await?;
    let mut ap = h.agent("edge-ap", "ap").await?;
    assert_eq!(assignment(&mut eu).await?, ["news", "shop"]);
    assert_eq!(assignment(&mut us).await?, ["blog"]);
    assert_eq!(assignment(&mut ap).await?, ["docs"]);
    let shop_request = down(&h, &mut eu, "shop").await?;
    let blog_request = down(&h, &mut us, "blog").await?;
    assert_eq!(h.metric(CONNECTIONS).await?, Some(3.0));

    // shop paused, blog removed, news moved to a new URL, api added.
    let after = base()
        .service(service("shop", "eu").set("active", false))
        .service(Service::new("news", "web-1", "http://news.test/v2").set("regions", ["eu"]))
        .service(service("docs", "ap"))
        .service(service("api", "us"));
    h.rewrite(&after)?;
    let answer = h.reload().await?;
    assert!(answer.ok, "{answer:?}");
    assert!(answer.restart_needed.is_empty(), "{answer:?}");

    // Each agent whose checks changed gets its new set; the other nothing.
    assert_eq!(assignment(&mut eu).await?, ["news"]);
    assert_eq!(assignment(&mut us).await?, ["api"]);
    nothing_new(&mut ap, "docs").await?;
    assert_eq!(h.service("news").await?.url, "http://news.test/v2");

    // The removed service's request closed as `removed`, with its event.
    let closed = h
        .await_event("request.closed", |b| b["id"] == blog_request)
        .await?;
    assert_eq!(closed["close_reason"], "removed", "{closed}");
    assert_eq!(h.request(blog_request).await?.close_reason, "removed");
    // The paused one is `paused`, its request still open.
    let shop = h.wait_state("shop", "paused").await?;
    assert_eq!(shop.open_request, Some(shop_request));
    assert_eq!(h.request(shop_request).await?.stage, "open");

    // The new service is probed by its agent and evaluated.
    us.report("api", &Outcome::ok()).await?;
    h.wait_state("api", "up").await?;

    // Resumed: assigned again, `unknown`, still knowing its request.
    h.rewrite(&before())?;
    assert!(h.reload().await?.ok);
    assert_eq!(assignment(&mut eu).await?, ["news", "shop"]);
    let shop = h.wait_state("shop", "unknown").await?;
    assert_eq!(shop.open_request, Some(shop_request));
    // It recovers: a round confirms it (it knows its request is open), and
    // the request closes as recovered.
    eu.report("shop", &Outcome::ok()).await?;
    h.advance(RECHECK_DELAY).await;
    let order = eu.order().await?;
    eu.answer(&order, &Outcome::ok()).await?;
    h.wait_state("shop", "up").await?;
    assert_eq!(h.request(shop_request).await?.close_reason, "recovered");

    for agent in [&mut eu, &mut us, &mut ap] {
        agent.heartbeat().await?;
    }
    nothing_new(&mut ap, "docs").await?;
    assert_eq!(
        h.metric(CONNECTIONS).await?,
        Some(3.0),
        "an agent reconnected"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_refused_file_keeps_the_running_configuration() -> anyhow::Result<()> {
    let h = Harness::start(&before()).await?;
    let mut ap = h.agent("edge-ap", "ap").await?;
    assert_eq!(assignment(&mut ap).await?, ["docs"]);
    assert_eq!(
        h.metric("picket_config_last_reload_successful").await?,
        Some(1.0)
    );
    let started = h
        .metric("picket_config_last_reload_success_timestamp_seconds")
        .await?;
    assert_eq!(started, Some((h.now_ms() / 1000) as f64));

    // Line 3: an unknown key; the rest of the file would remove `docs`.
    let text = "[collector]\ndatabase = \"sqlite://x.db\"\nnot_a_key = 1\n";
    h.rewrite_text(text)?;
    let answer = h.reload().await?;
    assert!(!answer.ok, "{answer:?}");
    let at = format!("{}:3: ", h.config_path().display());
    assert!(answer.error.starts_with(&at), "{answer:?}");
    assert!(answer.error.contains("not_a_key"), "{answer:?}");
    assert_eq!(
        h.metric("picket_config_last_reload_successful").await?,
        Some(0.0)
    );
    assert_eq!(
        h.metric("picket_config_last_reload_success_timestamp_seconds")
            .await?,
        started
    );
    // Nothing changed: same services, same checks, same tokens.
    nothing_new(&mut ap, "docs").await?;
    h.wait_state("docs", "up").await?;
    assert_eq!(h.service("blog").await?.url, "http://blog.test/");
    assert_eq!(h.metric(CONNECTIONS).await?, Some(1.0));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn tokens_and_webhooks_change_live() -> anyhow::Result<()> {
    let (old_sink, new_sink) = (WebhookSink::start().await?, WebhookSink::start().await?);
    let events = ["maintenance.started"];
    // Maintenance of an equipment without services: an event, no new
    // assignment.
    let config = before()
        .equipment("db-1", "Database 1")
        .webhook(Webhook::new("old", &old_sink.url()).events(&events));
    let mut h = Harness::start(&config).await?;
    let mut ap = h.agent("edge-ap", "ap").await?;
    assignment(&mut ap).await?;
    // The old receiver fails: its delivery is still pending at the reload.
    old_sink.set_status(503);
    let start = with_token(
        api::StartMaintenanceRequest {
            equipment: "db-1".into(),
            duration_ms: 3_600_000,
            reason: "before the reload".into(),
            mode: String::new(),
        },
        picket_e2e::ADMIN_TOKEN,
    );
    h.client().start_maintenance(start).await?;
    old_sink.await_delivery("maintenance.started", WAIT).await?;
    let hits_before_reload = old_sink.hits();

    let new_token = "a-new-admin-token-for-the-reload-test";
    let config = before()
        .equipment("db-1", "Database 1")
        .collector("admin_token", new_token)
        .webhook(Webhook::new("new", &new_sink.url()).events(&events));
    h.rewrite(&config)?;
    assert!(h.reload().await?.ok);

    // The old token is refused from now on; the new one is taken.
    let refused = h
        .reload()
        .await
        .expect_err("the old admin token still works");
    let status = refused.downcast::<tonic::Status>()?;
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert!(h.reload_as(new_token).await?.ok);

    // The next event goes to the new receiver only.
    let start = with_token(
        api::StartMaintenanceRequest {
            equipment: "db-1".into(),
            duration_ms: 3_600_000,
            reason: "after the reload".into(),
            mode: String::new(),
        },
        new_token,
    );
    h.client().start_maintenance(start).await?;
    new_sink.await_delivery("maintenance.started", WAIT).await?;
    assert_eq!(
        old_sink.hits(),
        hits_before_reload,
        "the removed webhook was still sent to"
    );
    // Its pending delivery was given up, with the reason.
    let failed = api::ListDeliveriesRequest {
        failed_only: true,
        ..Default::default()
    };
    let given_up = h
        .wait_for("the removed webhook's delivery given up", || async {
            let rows = h
                .client()
                .list_deliveries(with_token(failed.clone(), new_token))
                .await?
                .into_inner()
                .deliveries;
            let seen: Vec<(String, String)> = rows
                .iter()
                .map(|d| (d.webhook.clone(), d.state.clone()))
                .collect();
            Ok(rows
                .into_iter()
                .find(|d| d.webhook == "old" && d.state == "failed")
                .ok_or(format!("{seen:?}")))
        })
        .await?;
    assert!(
        given_up.last_error.contains("webhook was removed"),
        "{given_up:?}"
    );
    let listed: Vec<String> = h
        .client()
        .list_webhooks(with_token(api::ListWebhooksRequest {}, new_token))
        .await?
        .into_inner()
        .webhooks
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(listed, ["new"]);
    nothing_new(&mut ap, "docs").await?;
    assert_eq!(h.metric(CONNECTIONS).await?, Some(1.0));
    Ok(())
}

/// `[retention]` changes live: events kept by a pass under the default
/// 90 days are pruned by the next pass once a reload says one day.
#[tokio::test(start_paused = true)]
async fn a_reload_changes_retention_from_the_next_pass() -> anyhow::Result<()> {
    const LAST_RUN: &str = "picket_retention_last_run_timestamp_seconds";
    const DELETED_EVENTS: &str = "picket_retention_deleted_rows_total{table=\"events\"}";
    let mut h = Harness::start(&base()).await?;
    h.start_maintenance("web-1", Duration::from_secs(3600))
        .await?;
    h.advance(Duration::from_secs(2 * 24 * 3600)).await;
    let passed_at = h.now_ms() / 1000;
    h.wait_for("a retention pass after two days", || async {
        let last = h.metric(LAST_RUN).await?.unwrap_or(0.0);
        Ok(if last >= passed_at as f64 {
            Ok(())
        } else {
            Err(format!("last run {last}"))
        })
    })
    .await?;
    assert_eq!(
        h.metric(DELETED_EVENTS).await?.unwrap_or(0.0),
        0.0,
        "two-day-old events were pruned under a 90-day retention"
    );

    h.rewrite(&base().raw("[retention]\nevents = \"1d\"\n"))?;
    assert!(h.reload().await?.ok);
    h.advance(Duration::from_secs(11 * 60)).await;
    h.wait_for("the next pass pruning under the new retention", || async {
        let deleted = h.metric(DELETED_EVENTS).await?.unwrap_or(0.0);
        // maintenance.started (two days old); its window's end was
        // stamped when the clock jumped, so it is younger than a day.
        Ok(if deleted >= 1.0 {
            Ok(())
        } else {
            Err(format!("{deleted} events deleted"))
        })
    })
    .await?;
    Ok(())
}

/// `[[services]]` `id` on `web-1`, probed from `region`, as an included
/// file holds it.
fn included_service(id: &str, region: &str) -> String {
    format!(
        "[[services]]\nid = \"{id}\"\nequipment = \"web-1\"\nurl = \"http://{id}.test/\"\n\
         regions = [\"{region}\"]\n"
    )
}

#[tokio::test(start_paused = true)]
async fn a_reload_reads_the_files_in_services_d_again() -> anyhow::Result<()> {
    let h = Harness::start(&before()).await?;
    let mut us = h.agent("edge-us", "us").await?;
    assert_eq!(assignment(&mut us).await?, ["blog"]);

    // The running file, with `include` on top and one file in services.d.
    let services_d = h.dir().join("services.d");
    std::fs::create_dir(&services_d)?;
    std::fs::write(
        services_d.join("10-api.toml"),
        included_service("api", "us"),
    )?;
    let main = std::fs::read_to_string(h.config_path())?;
    h.rewrite_text(&format!("include = [\"services.d/*.toml\"]\n{main}"))?;
    let answer = h.reload().await?;
    assert!(answer.ok, "{answer:?}");
    assert_eq!(assignment(&mut us).await?, ["api", "blog"]);

    // A new file in services.d: the next reload reads it too.
    std::fs::write(
        services_d.join("20-cdn.toml"),
        included_service("cdn", "us"),
    )?;
    assert!(h.reload().await?.ok);
    assert_eq!(assignment(&mut us).await?, ["api", "blog", "cdn"]);
    us.report("cdn", &Outcome::ok()).await?;
    h.wait_state("cdn", "up").await?;
    Ok(())
}
