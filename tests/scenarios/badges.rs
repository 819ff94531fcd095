//! `/badge/ID.svg` and `/badge/ID/uptime.svg` as served: SVG that parses,
//! the state in words and colour, the uptime of known results from the
//! rollups, the headers, 404 for an unknown service and 400 for a bad
//! period.

use picket_e2e::inproc::{Harness, HttpAnswer, Outcome};

use crate::common::{SERVICE, one_service};

/// The visible texts of a badge and the fill of its message.
fn read(answer: &HttpAnswer) -> (Vec<String>, String) {
    let doc = roxmltree::Document::parse(&answer.body).expect("the badge is XML");
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("aria-hidden").is_none())
        .map(|n| n.text().unwrap_or_default().to_owned())
        .collect();
    let fills: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter_map(|n| n.attribute("fill"))
        .filter(|f| f.starts_with('#') && *f != "#fff")
        .collect();
    (texts, fills.get(1).copied().unwrap_or_default().to_owned())
}

fn is_badge(answer: &HttpAnswer, status: u16) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.headers["content-type"], "image/svg+xml");
    assert_eq!(answer.headers["cache-control"], "max-age=30");
}

#[tokio::test(start_paused = true)]
async fn badges_show_the_state_and_the_uptime_from_the_rollups() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let status = format!("/badge/{SERVICE}.svg");
    let uptime = format!("/badge/{SERVICE}/uptime.svg");

    let before = h.http_get(&status).await?;
    is_badge(&before, 200);
    assert_eq!(
        read(&before),
        (vec![SERVICE.into(), "unknown".into()], "#9f9f9f".into())
    );
    let none = h.http_get(&uptime).await?;
    assert_eq!(read(&none).0, [SERVICE, "no data 30d"]);

    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    for _ in 0..3 {
        a.report(SERVICE, &Outcome::ok()).await?;
    }
    h.wait_state(SERVICE, "up").await?;
    let up = h.http_get(&status).await?;
    is_badge(&up, 200);
    assert_eq!(
        read(&up),
        (vec![SERVICE.into(), "up".into()], "#4c1".into())
    );
    let all = h.http_get(&uptime).await?;
    is_badge(&all, 200);
    assert_eq!(
        read(&all),
        (vec![SERVICE.into(), "100% 30d".into()], "#4c1".into())
    );

    a.report(SERVICE, &Outcome::status(503)).await?;
    h.wait_state(SERVICE, "suspect").await?;
    let suspect = h.http_get(&status).await?;
    assert_eq!(read(&suspect).0, [SERVICE, "suspect"]);
    for (query, text) in [
        ("", "75% 30d"),
        ("?period=30d", "75% 30d"),
        ("?period=7d", "75% 7d"),
        ("?period=24h", "75% 24h"),
    ] {
        let answer = h.http_get(&format!("{uptime}{query}")).await?;
        is_badge(&answer, 200);
        assert_eq!(
            read(&answer),
            (vec![SERVICE.into(), text.into()], "#e05d44".into()),
            "{query}"
        );
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn unknown_services_and_bad_periods_are_refused() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    for path in [
        "/badge/nope.svg",
        "/badge/nope/uptime.svg",
        "/badge/shop.png",
    ] {
        let answer = h.http_get(path).await?;
        is_badge(&answer, 404);
        assert_eq!(read(&answer).0, ["service", "not found"], "{path}");
    }
    let bad = h
        .http_get(&format!("/badge/{SERVICE}/uptime.svg?period=1y"))
        .await?;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        bad.body,
        "period: \"1y\" is not one of 24h, 7d, 30d (default 30d)\n"
    );
    Ok(())
}
