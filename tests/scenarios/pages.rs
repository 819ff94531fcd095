//! The status pages fetched over HTTP from the running collector: states
//! in words, uptimes, open requests, filters and pages, a service's latest
//! results and chart, a request's timeline where the webhook link lands,
//! the agents, 404s, escaping of what config and agents say, and the read
//! token.

use std::time::Duration;

use picket_e2e::Config;
use picket_e2e::ENROLLMENT_TOKEN;
use picket_e2e::config::Service;
use picket_e2e::inproc::{Harness, Identity, Outcome, Phases, ScriptedAgent};

use crate::common::one_equipment;

const RECHECK_DELAY: Duration = Duration::from_secs(2);
const DAY_MS: i64 = 86_400_000;

/// shop (up), api (down with an open request), old (paused) on web-1.
fn three_services() -> Config {
    one_equipment()
        .service(Service::new("shop", "web-1", "http://shop.test/"))
        .service(Service::new("api", "web-1", "http://api.test/"))
        .service(Service::new("old", "web-1", "http://old.test/").set("active", false))
}

/// Takes `service` down through a confirmed recheck round; returns its
/// request id.
async fn take_down(h: &Harness, a: &mut ScriptedAgent, service: &str) -> anyhow::Result<i64> {
    a.report(service, &Outcome::status(503)).await?;
    h.wait_state(service, "suspect").await?;
    h.advance(RECHECK_DELAY).await;
    let order = a.order().await?;
    a.answer(&order, &Outcome::status(503)).await?;
    // Its equipment has other services: its request opens at the end of
    // the grouping window (one round window, 2 s + 12 s), if no host
    // request takes it.
    h.wait_state(service, "down").await?;
    h.advance(Duration::from_secs(14)).await;
    let s = h
        .wait_service(service, "down with a request", |s| {
            s.state == "down" && s.open_request.is_some()
        })
        .await?;
    Ok(s.open_request.expect("checked above"))
}

/// The text of the table row whose header cell links to `/services/ID`.
fn row_of<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("<a href=\"/services/{id}\">"))
        .unwrap_or_else(|| panic!("no row for {id}"));
    let end = body[start..]
        .find("</tr>")
        .map_or(body.len(), |e| start + e);
    &body[start..end]
}

#[tokio::test(start_paused = true)]
async fn the_status_page_shows_states_in_words_uptimes_and_open_requests() -> anyhow::Result<()> {
    let h = Harness::start(&three_services()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    a.report("shop", &Outcome::ok()).await?;
    h.wait_state("shop", "up").await?;
    let request = take_down(&h, &mut a, "api").await?;
    h.wait_state("old", "paused").await?;

    let page = h.http_get("/").await?;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.headers["content-type"].starts_with("text/html"));
    assert!(page.body.contains("<html lang=\"en\">"));
    assert!(
        page.body
            .contains("<meta http-equiv=\"refresh\" content=\"30\">")
    );
    assert!(page.body.contains("href=\"#main\">Skip to content</a>"));
    assert!(page.body.contains("Web server 1"));
    let shop = row_of(&page.body, "shop");
    assert!(shop.contains("class=\"state st-up\">Up<"), "{shop}");
    assert!(shop.contains("<td>100%</td>"), "{shop}");
    assert!(shop.contains("1.5 ms"), "the latest latency: {shop}");
    assert!(shop.contains("Daily uptime, last 90 days: 1 day measured, all fully up"));
    let api = row_of(&page.body, "api");
    assert!(api.contains("class=\"state st-down\">Down<"), "{api}");
    assert!(api.contains("<td>0.00%</td>"), "{api}");
    assert!(
        api.contains(&format!(
            "<a href=\"/requests/{request}\">#{request}</a>, open for "
        )),
        "{api}"
    );
    let old = row_of(&page.body, "old");
    assert!(old.contains("class=\"state st-paused\">Paused<"), "{old}");
    assert!(old.contains("no data"), "{old}");
    assert!(
        page.body.contains("<strong>eu</strong>: 1 live of 1"),
        "agents by region"
    );
    assert_eq!(page.body.matches("<rect ").count(), 3 * 90, "90 bars each");

    let css = h.http_get("/static/picket.css").await?;
    assert_eq!(css.status, 200);
    assert!(css.headers["content-type"].starts_with("text/css"));
    assert!(css.headers["cache-control"].starts_with("public, max-age="));
    assert!(css.body.contains(".st-down"));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn filters_and_keyset_pages_list_each_service_once() -> anyhow::Result<()> {
    // 60 services on two equipment: 50 on the first page, 10 on the next.
    let mut config = one_equipment().equipment("web-2", "Web server 2");
    for i in 0..60 {
        let eq = if i % 2 == 0 { "web-1" } else { "web-2" };
        config = config.service(Service::new(&format!("s{i:02}"), eq, "http://x.test/"));
    }
    let h = Harness::start(&config).await?;
    let first = h.http_get("/").await?;
    assert_eq!(first.status, 200);
    assert_eq!(first.body.matches("<a href=\"/services/").count(), 50);
    assert!(
        !first.body.contains("rel=\"prev\""),
        "the first page has no previous"
    );
    // web-1 holds the even ids: its 30 come first, then 20 of web-2's.
    let next = first
        .body
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next link");
    assert_eq!(next, "/?after=s39");
    let second = h.http_get(next).await?;
    assert_eq!(second.body.matches("<a href=\"/services/").count(), 10);
    assert!(
        second.body.contains("<a href=\"/services/s41\">")
            && second.body.contains("<a href=\"/services/s59\">")
    );
    assert!(
        !second.body.contains("<a href=\"/services/s39\">"),
        "s39 is on page 1 only"
    );
    assert!(second.body.contains("rel=\"prev\" href=\"/?before=s41\""));
    assert!(!second.body.contains("rel=\"next\""));
    let back = h.http_get("/?before=s41").await?;
    assert_eq!(back.body.matches("<a href=\"/services/").count(), 50);
    assert!(
        back.body.contains("<a href=\"/services/s00\">")
            && back.body.contains("<a href=\"/services/s39\">")
    );

    let web2 = h.http_get("/?state=&equipment=web-2").await?;
    assert_eq!(web2.body.matches("<a href=\"/services/").count(), 30);
    assert!(!web2.body.contains("<a href=\"/services/s00\">"));
    assert!(
        web2.body.contains("value=\"web-2\""),
        "the form keeps the filter"
    );
    let down = h.http_get("/?state=down").await?;
    assert!(down.body.contains("No service matches."));
    assert!(down.body.contains("<option value=\"down\" selected>"));
    let unknown = h.http_get("/?state=unknown&equipment=web-1").await?;
    assert_eq!(unknown.body.matches("<a href=\"/services/").count(), 30);
    let bad = h.http_get("/?state=sideways").await?;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("unknown service state"), "{}", bad.body);
    assert!(bad.body.contains("up, suspect, down"), "{}", bad.body);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_service_page_shows_each_agents_result_the_chart_and_its_requests() -> anyhow::Result<()>
{
    let docs = Service::new("docs", "web-1", "http://docs.test/").set("cert_expiry_warning", "5d");
    let h = Harness::start(&three_services().service(docs)).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let ms = Duration::from_millis;
    let phases = Phases {
        dns: ms(3),
        connect: ms(7),
        tls: ms(20),
        processing: ms(40),
        transfer: ms(5),
    };
    let expiring = Outcome::ok()
        .with_phases(phases, ms(75))
        .with_cert_expiry(h.now_ms() + 10 * DAY_MS + 3_600_000);
    a.report("shop", &expiring).await?;
    a.report("docs", &expiring).await?;
    h.wait_state("shop", "up").await?;
    h.wait_state("docs", "up").await?;
    let request = take_down(&h, &mut a, "api").await?;

    let shop = h.http_get("/services/shop").await?;
    assert_eq!(shop.status, 200);
    assert!(shop.body.contains("<h1>Service shop</h1>"));
    assert!(shop.body.contains("class=\"state st-up\">Up<"));
    assert!(
        shop.body
            .contains("<th scope=\"row\">edge-1</th><td>eu</td>")
    );
    for phase in [
        "3.0 ms", "7.0 ms", "20.0 ms", "40.0 ms", "5.0 ms", "75.0 ms",
    ] {
        assert!(
            shop.body.contains(&format!("<td>{phase}</td>")),
            "phase {phase}"
        );
    }
    assert!(
        shop.body.contains("expires in 10 days"),
        "certificate expiry"
    );
    assert!(
        shop.body.contains("expiring soon"),
        "within the 14-day default"
    );
    assert!(shop.body.contains("<svg class=\"chart\""));
    assert!(
        shop.body
            .contains("<title id=\"chart-t\">Hourly latency of shop")
    );
    assert!(shop.body.contains("<polyline class=\"p50\""));
    assert!(shop.body.contains("Over the last 24 hours: median latency"));
    assert!(shop.body.contains("No request so far."));
    assert_eq!(shop.body.matches("<rect ").count(), 90);

    let docs = h.http_get("/services/docs").await?;
    assert!(docs.body.contains("expires in 10 days"), "{}", docs.body);
    assert!(
        !docs.body.contains("expiring soon"),
        "docs warns 5 days ahead only"
    );

    let api = h.http_get("/services/api").await?;
    assert!(api.body.contains("class=\"state st-down\">Down<"));
    assert!(api.body.contains("HTTP 503"));
    assert!(
        api.body
            .contains(&format!("<a href=\"/requests/{request}\">#{request}</a>"))
    );
    assert!(
        !api.body.contains("expiring soon"),
        "no certificate over plain HTTP"
    );

    for missing in ["/services/nope", "/requests/999", "/requests/abc"] {
        let page = h.http_get(missing).await?;
        assert_eq!(page.status, 404, "{missing}");
        assert!(page.body.contains("not found"), "{missing}: {}", page.body);
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_webhook_link_lands_on_the_request_and_its_timeline() -> anyhow::Result<()> {
    let h = Harness::start(&three_services()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    a.report("api", &Outcome::ok()).await?;
    h.wait_state("api", "up").await?;
    let id = take_down(&h, &mut a, "api").await?;
    let opened = h.await_event("request.opened", |b| b["id"] == id).await?;
    let link = opened["link"].as_str().expect("a link").to_owned();
    let path = link
        .strip_prefix(&format!("http://{}", h.http_addr()))
        .expect("the link points at the collector");
    h.add_note(id, "looking into it <b>now</b>").await?;
    h.advance(Duration::from_secs(60)).await;
    h.close_request(id, "fixed the upstream").await?;

    let page = h.http_get(path).await?;
    assert_eq!(page.status, 200, "{link}: {}", page.body);
    assert!(page.body.contains(&format!(
        "<h1>Request #{id}: [HTTP KO] http://api.test/</h1>"
    )));
    assert!(page.body.contains("<a href=\"/services/api\">api</a>"));
    assert!(page.body.contains("HTTP 503"), "the description");
    let opened_at = page.body.find("<td>Opened</td>").expect("opened");
    let note_at = page
        .body
        .find("looking into it &#60;b&#62;now&#60;/b&#62;")
        .expect("the note, escaped");
    let closed_at = page.body.find("<td>Closed</td>").expect("closed");
    assert!(opened_at < note_at && note_at < closed_at, "in time order");
    assert!(page.body.contains("fixed the upstream"));
    assert!(page.body.contains("reason: manual"));
    assert!(page.body.contains("class=\"state st-up\">Done<"));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_agents_page_lists_liveness_region_stats_and_checks() -> anyhow::Result<()> {
    let h = Harness::start(&three_services()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    assert_eq!(
        a.assignment().await?.len(),
        2,
        "shop and api; old is paused"
    );
    let sent = a.heartbeat().await?;
    h.wait_agent(a.id(), "the heartbeat recorded", |agent| {
        agent.stats_json.contains(&format!("\"uptime_s\":{sent}"))
    })
    .await?;

    let page = h.http_get("/agents").await?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("1 of 1 agents live."));
    let row = &page.body[page.body.find("edge-1").expect("the agent")..];
    assert!(row.contains("<td>eu</td><td>active</td>"), "{row}");
    assert!(row.contains("class=\"state st-up\">Live<"), "{row}");
    assert!(row.contains("<td>2</td>"), "two checks: {row}");
    assert!(
        row.contains("<td>scripted</td>"),
        "the version from the heartbeat: {row}"
    );
    assert!(!row.contains("no heartbeat yet"), "{row}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn what_config_and_agents_say_is_escaped() -> anyhow::Result<()> {
    let config = Config::fast()
        .defaults("recheck_delay", "2s")
        .equipment("web-1", "<script>alert('eq')</script>")
        .service(Service::new(
            "shop",
            "web-1",
            "http://shop.test/?q=<script>",
        ));
    let h = Harness::start(&config).await?;
    let identity = Identity {
        id: "edge-hostile".into(),
        name: "<script>alert('agent')</script>".into(),
        region: "<i>eu</i>".into(),
        credential: String::new(),
    };
    let mut a = ScriptedAgent::connect(h.grpc_addr(), identity, ENROLLMENT_TOKEN)
        .await?
        .map_err(|refused| anyhow::anyhow!("refused: {refused}"))?;
    a.assignment().await?;
    a.report("shop", &Outcome::ok()).await?;
    h.wait_state("shop", "up").await?;
    for path in ["/", "/services/shop", "/agents"] {
        let page = h.http_get(path).await?;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            !page.body.contains("<script>"),
            "{path} carries raw markup: {}",
            page.body
        );
        assert!(!page.body.contains("<i>eu</i>"), "{path}");
    }
    let index = h.http_get("/").await?;
    assert!(
        index
            .body
            .contains("&#60;script&#62;alert(&#39;eq&#39;)&#60;/script&#62;"),
        "{}",
        index.body
    );
    let agents = h.http_get("/agents").await?;
    assert!(agents.body.contains("&#60;i&#62;eu&#60;/i&#62;"));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_read_token_guards_the_pages_but_not_the_stylesheet() -> anyhow::Result<()> {
    let h = Harness::start(&three_services().collector("read_token", "r3ad-t0ken")).await?;
    let refused = h.http_get("/").await?;
    assert_eq!(refused.status, 401);
    assert!(refused.headers["www-authenticate"].starts_with("Basic realm=\"picket\""));
    for path in ["/services/shop", "/agents", "/requests/1"] {
        assert_eq!(h.http_get(path).await?.status, 401, "{path}");
    }
    let wrong = h
        .http_get_with("/", &[("authorization", "Bearer nope")])
        .await?;
    assert_eq!(wrong.status, 401);
    let bearer = h
        .http_get_with("/", &[("authorization", "Bearer r3ad-t0ken")])
        .await?;
    assert_eq!(bearer.status, 200);
    // "anyone:r3ad-t0ken", as a browser sends it.
    let basic = h
        .http_get_with(
            "/agents",
            &[("authorization", "Basic YW55b25lOnIzYWQtdDBrZW4=")],
        )
        .await?;
    assert_eq!(basic.status, 200);
    assert_eq!(h.http_get("/static/picket.css").await?.status, 200);
    Ok(())
}
