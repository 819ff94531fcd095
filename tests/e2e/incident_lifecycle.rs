//! Fail → recheck → open once → recover → auto-close with a note; a new
//! failure after that opens a new request.

use picket_e2e::target::Target;
use picket_e2e::{DEADLINE, Seen, parse_time, wait_until};

use crate::common::{
    SERVICE, assert_open_http_ko, is_down_with_request, one_service, open_request, start,
};

/// One failing probe, then 200 before the recheck: the recheck passes, the
/// service goes back to `up`, and no request is ever opened. A collector
/// that opened on the first failure (or went `down`) fails this test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_transient_failure_opens_nothing() -> anyhow::Result<()> {
    let target = Target::http().await;
    // Probes 2 s apart and a 3 s recheck delay: after one failing probe the
    // service stays `suspect` long enough to be seen, and the test flips the
    // target back to 200 well before the next probe.
    let config = one_service(&target.url())
        .defaults("interval", "2s")
        .defaults("recheck_delay", "3s");
    let (c, _agent) = start(config, &[]).await?;
    c.wait_state(SERVICE, "up").await?;

    // Count first: a probe landing between the two lines got a 200.
    let before = target.hits();
    target.set_status(500);
    wait_until(DEADLINE, "one probe answered with 500", async || {
        target.hits() > before
    })
    .await?;
    target.set_status(200);
    assert_eq!(target.hits(), before + 1, "more than one probe saw the 500");

    // The collector received the failure…
    let suspect = c
        .wait_service(SERVICE, "suspect after the failing probe", |s| {
            s["state"] == "suspect"
        })
        .await?;
    assert!(
        suspect["open_request"].is_null(),
        "a request is open on a first failure: {suspect}"
    );

    // …and the recheck (200) brings it back up without ever going down.
    wait_until(
        DEADLINE,
        "service back up after a passing recheck",
        async || {
            let s = c.service(SERVICE).await?;
            Ok::<_, anyhow::Error>(if s["state"] == "down" || !s["open_request"].is_null() {
                Seen::Violated(format!("a single failure took it down: {s}"))
            } else if s["state"] == "up" {
                Seen::Ready(())
            } else {
                Seen::Pending(s.to_string())
            })
        },
    )
    .await?;
    let requests = c.requests().await?;
    assert!(
        requests.is_empty(),
        "a transient failure opened requests: {requests:?}"
    );
    Ok(())
}

/// A sustained failure opens exactly one request with the contract's fields,
/// and several more failing probes never open a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sustained_failure_opens_exactly_one_request() -> anyhow::Result<()> {
    let target = Target::http().await;
    let url = target.url();
    let (c, _agent) = start(one_service(&url), &[]).await?;
    c.wait_state(SERVICE, "up").await?;

    target.set_status(500);
    let service = c
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    assert_eq!(service["ok"], false, "{service}");
    assert_eq!(service["last_status_code"], 500, "{service}");
    assert_eq!(service["last_error_kind"], "http_status", "{service}");
    let id = open_request(&service);

    let requests = c.requests().await?;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["id"], id, "{requests:?}");
    assert_open_http_ko(&requests[0], &url, "HTTP 500");
    let request = c.request(id).await?;
    assert_open_http_ko(&request, &url, "HTTP 500");
    assert_eq!(request["id"], id, "{request}");
    let open = c.open_requests().await?;
    assert_eq!(open.len(), 1, "requests --open: {open:?}");

    // Keep failing for several more probes: still one request, the same.
    let hits = target.hits();
    wait_until(
        DEADLINE,
        "4 more failing probes, one request throughout",
        async || {
            let requests = c.requests().await?;
            let service = c.service(SERVICE).await?;
            Ok::<_, anyhow::Error>(if requests.len() != 1 || service["open_request"] != id {
                Seen::Violated(format!("a second request: {requests:?}, service {service}"))
            } else if target.hits() >= hits + 4 {
                Seen::Ready(())
            } else {
                Seen::Pending(format!("{} probes since down", target.hits() - hits))
            })
        },
    )
    .await?;
    let service = c.service(SERVICE).await?;
    assert_eq!(service["state"], "down", "{service}");
    Ok(())
}

/// Recovery closes the request (stage done, close_reason recovered, a note
/// by `picket` naming the URL) and clears the service's link; the next
/// failure opens a new request with a new id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_closes_the_request_and_a_new_failure_opens_a_new_one() -> anyhow::Result<()> {
    let target = Target::http().await;
    let url = target.url();
    target.set_status(500);
    let (c, _agent) = start(one_service(&url), &[]).await?;
    let down = c
        .wait_service(SERVICE, "down with an open request", is_down_with_request)
        .await?;
    let first = open_request(&down);

    target.set_status(200);
    let up = c
        .wait_service(SERVICE, "up again with no open request", |s| {
            s["state"] == "up" && s["open_request"].is_null()
        })
        .await?;
    assert_eq!(up["ok"], true, "{up}");
    assert_eq!(up["last_status_code"], 200, "{up}");

    let closed = c.request(first).await?;
    assert_eq!(closed["stage"], "done", "{closed}");
    assert_eq!(closed["close_reason"], "recovered", "{closed}");
    let opened_at = parse_time(&closed["opened_at"]).expect("opened_at is RFC 3339");
    let closed_at = parse_time(&closed["closed_at"])
        .unwrap_or_else(|| panic!("closed_at is not RFC 3339: {closed}"));
    assert!(closed_at >= opened_at, "closed before opened: {closed}");
    let notes = closed["notes"]
        .as_array()
        .unwrap_or_else(|| panic!("notes is not a list: {closed}"));
    assert!(
        notes.iter().any(|n| n["author"] == "picket"
            && n["text"].as_str().is_some_and(|t| t.contains(&url))
            && parse_time(&n["time"]).is_some()),
        "no note by picket naming {url} with a time: {notes:?}"
    );

    target.set_status(500);
    let down_again = c
        .wait_service(SERVICE, "down again with a new request", |s| {
            is_down_with_request(s) && s["open_request"] != first
        })
        .await?;
    let second = open_request(&down_again);
    assert_ne!(second, first);
    let requests = c.requests().await?;
    assert_eq!(requests.len(), 2, "{requests:?}");
    let open: Vec<_> = requests.iter().filter(|r| r["stage"] == "open").collect();
    assert_eq!(open.len(), 1, "{requests:?}");
    assert_eq!(open[0]["id"], second, "{requests:?}");
    assert_open_http_ko(open[0], &url, "HTTP 500");
    assert_eq!(c.request(first).await?["stage"], "done");
    Ok(())
}
