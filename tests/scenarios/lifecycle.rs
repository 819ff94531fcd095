//! Fail → recheck → open once → recover → auto-close with a note; a new
//! failure after that opens a new request.

use std::time::Duration;

use picket_e2e::inproc::{Harness, Outcome, epoch_ms};

use crate::common::{SERVICE, URL, one_service};

picket_e2e::store_scenarios!(
    a_single_transient_failure_opens_nothing,
    a_sustained_failure_opens_exactly_one_request,
    recovery_closes_the_request_and_a_new_failure_opens_a_new_one,
);

const RECHECK_DELAY: Duration = Duration::from_secs(2);

/// One failing probe, then a passing recheck: back to `up`, nothing opened.
async fn a_single_transient_failure_opens_nothing() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    assert_eq!(a.assignment().await?, vec![SERVICE.to_owned()]);
    a.report(SERVICE, &Outcome::ok()).await?;
    h.wait_state(SERVICE, "up").await?;

    a.report(SERVICE, &Outcome::status(500)).await?;
    let s = h.wait_state(SERVICE, "suspect").await?;
    assert_eq!(s.open_request, None, "a request is open on a first failure");
    assert!(!a.has_order(), "a recheck was ordered before recheck_delay");

    h.advance(RECHECK_DELAY).await;
    let order = a.order().await?;
    assert_eq!(order.service, SERVICE);
    a.answer(&order, &Outcome::ok()).await?;
    h.wait_state(SERVICE, "up").await?;
    assert!(
        h.requests().await?.is_empty(),
        "a transient failure opened a request"
    );
    Ok(())
}

/// A confirmed failure opens exactly one request with the contract's
/// fields; more failing rounds never open a second one.
async fn a_sustained_failure_opens_exactly_one_request() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    a.report(SERVICE, &Outcome::ok()).await?;
    h.wait_state(SERVICE, "up").await?;

    a.report(SERVICE, &Outcome::status(503)).await?;
    h.wait_state(SERVICE, "suspect").await?;
    h.advance(RECHECK_DELAY).await;
    let order = a.order().await?;
    a.answer(&order, &Outcome::status(503)).await?;
    let s = h
        .wait_service(SERVICE, "down with a request", |s| {
            s.state == "down" && s.open_request.is_some()
        })
        .await?;
    let id = s.open_request.expect("checked above");
    let opened = h.await_event("request.opened", |b| b["id"] == id).await?;
    assert_eq!(opened["name"], format!("[HTTP KO] {URL}"));
    assert_eq!(opened["kind"], "corrective");
    assert_eq!(opened["priority"], "2");
    assert_eq!(opened["equipment"], "Web server 1");
    assert_eq!(opened["equipment_id"], "web-1");
    assert_eq!(opened["service"], SERVICE);
    assert_eq!(
        opened["link"],
        format!("http://{}/requests/{id}", h.http_addr())
    );
    let description = opened["description"].as_str().unwrap_or_default();
    assert!(description.starts_with("HTTP 503"), "{description}");
    assert!(description.contains("edge-1"), "{description}");

    // The outage goes on: more failures change nothing (no round while
    // down). Then it recovers; everything logged before the close shows
    // one outage and one request.
    for _ in 0..3 {
        a.report(SERVICE, &Outcome::status(503)).await?;
    }
    assert_eq!(h.service(SERVICE).await?.open_request, Some(id));
    a.report(SERVICE, &Outcome::ok()).await?;
    h.advance(RECHECK_DELAY).await;
    let order = a.order().await?;
    a.answer(&order, &Outcome::ok()).await?;
    let log = h.events_until("request.closed", |b| b["id"] == id).await?;
    let count = |kind: &str| log.iter().filter(|(t, _)| t == kind).count();
    assert_eq!(
        count("request.opened"),
        1,
        "a second request was opened: {log:?}"
    );
    assert_eq!(
        count("service.down"),
        1,
        "the outage was announced twice: {log:?}"
    );
    assert_eq!(h.requests().await?.len(), 1);
    Ok(())
}

/// Recovery closes the request with a note by `picket` and clears the
/// service's link; the next failure opens a new request.
async fn recovery_closes_the_request_and_a_new_failure_opens_a_new_one() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let mut opened = Vec::new();
    for _ in 0..2 {
        a.report(SERVICE, &Outcome::refused()).await?;
        h.wait_state(SERVICE, "suspect").await?;
        h.advance(RECHECK_DELAY).await;
        let order = a.order().await?;
        a.answer(&order, &Outcome::refused()).await?;
        let s = h
            .wait_service(SERVICE, "down with a request", |s| s.open_request.is_some())
            .await?;
        let id = s.open_request.expect("checked above");
        assert!(!opened.contains(&id), "request {id} was reused");
        opened.push(id);
        let request = h.request(id).await?;
        assert!(
            request
                .description
                .starts_with("connect: connection refused"),
            "{}",
            request.description
        );

        // Recovery: an OK result starts a round whose quorum says OK.
        a.report(SERVICE, &Outcome::ok()).await?;
        h.advance(RECHECK_DELAY).await;
        let order = a.order().await?;
        a.answer(&order, &Outcome::ok()).await?;
        let s = h.wait_state(SERVICE, "up").await?;
        assert_eq!(
            s.open_request, None,
            "the link to the closed request stayed"
        );
        let closed = h.await_event("request.closed", |b| b["id"] == id).await?;
        assert_eq!(closed["close_reason"], "recovered");
        assert_eq!(closed["stage"], "done");
        let request = h.request(id).await?;
        assert_eq!(request.stage, "done");
        let note = request.notes.last().expect("a closing note");
        let now = h.now_ms();
        assert_eq!(
            (note.author.as_str(), epoch_ms(note.time.as_ref())),
            ("picket", Some(now)),
            "written by picket at the recovery"
        );
        assert_eq!(
            note.text,
            format!(
                "closed automatically: {URL} answered HTTP 200 from agents edge-1 at {}",
                picket_collector::time::rfc3339(now)
            )
        );
    }
    Ok(())
}
