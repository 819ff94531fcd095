//! A clean restart keeps an open request: no duplicate, and the recovery
//! after it closes the same request. (A crash is the e2e suite's: only a
//! process can be killed.)

use std::time::Duration;

use picket_e2e::inproc::{Harness, Outcome};

use crate::common::{SERVICE, one_service};

#[tokio::test(start_paused = true)]
async fn a_clean_restart_keeps_the_open_request() -> anyhow::Result<()> {
    let mut h = Harness::start(&one_service()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    a.report(SERVICE, &Outcome::status(502)).await?;
    h.wait_state(SERVICE, "suspect").await?;
    h.advance(Duration::from_secs(2)).await;
    let order = a.order().await?;
    a.answer(&order, &Outcome::status(502)).await?;
    let s = h
        .wait_service(SERVICE, "down with a request", |s| s.open_request.is_some())
        .await?;
    let id = s.open_request;

    h.restart().await?;
    a.closed().await?;
    let mut a = h
        .reconnect(&a.identity().clone())
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()]);
    let s = h.service(SERVICE).await?;
    assert_eq!((s.state.as_str(), s.open_request), ("down", id), "{s:?}");

    // Still failing: the same outage (no round while down). Recovery then
    // closes the request opened before the restart, and the log up to that
    // close holds no second request.
    a.report(SERVICE, &Outcome::status(502)).await?;
    a.report(SERVICE, &Outcome::ok()).await?;
    h.advance(Duration::from_secs(2)).await;
    let order = a.order().await?;
    a.answer(&order, &Outcome::ok()).await?;
    h.wait_state(SERVICE, "up").await?;
    let id = id.expect("checked above");
    let log = h.events_until("request.closed", |b| b["id"] == id).await?;
    let opened = log.iter().filter(|(t, _)| t == "request.opened").count();
    assert_eq!(opened, 1, "a second request was opened: {log:?}");
    let request = h.request(id).await?;
    assert_eq!(
        (request.stage.as_str(), request.close_reason.as_str()),
        ("done", "recovered")
    );
    Ok(())
}
