//! Requests closed by hand and paused services: a request closed by hand
//! stays closed while its service (or agent) stays down, and the next
//! outage after a recovery opens a new one; a paused service is listed as
//! `paused`, not probed, opens nothing, and keeps its open request.

use std::time::Duration;

use picket_e2e::inproc::{Harness, Outcome, ScriptedAgent};
use tonic::Code;

use crate::agents::{agent_requests, beat};
use crate::common::{SERVICE, URL, one_service};

const RECHECK_DELAY: Duration = Duration::from_secs(2);

/// Reports `outcome` and answers the recheck round it starts with it.
pub(crate) async fn round(
    h: &Harness,
    a: &mut ScriptedAgent,
    outcome: &Outcome,
) -> anyhow::Result<()> {
    a.report(SERVICE, outcome).await?;
    h.advance(RECHECK_DELAY).await;
    let order = a.order().await?;
    a.answer(&order, outcome).await
}

/// Takes the service down through a confirmed round; its request's id.
pub(crate) async fn down(h: &Harness, a: &mut ScriptedAgent) -> anyhow::Result<i64> {
    round(h, a, &Outcome::status(503)).await?;
    let s = h
        .wait_service(SERVICE, "down with a request", |s| {
            s.state == "down" && s.open_request.is_some()
        })
        .await?;
    Ok(s.open_request.expect("checked above"))
}

/// Closed by hand while down: `manual`, the note by `admin`, the link
/// cleared, `request.closed` sent. Failures (also after losing and
/// regaining its agent, and through a confirmed round) open nothing; a
/// recovery ends that, and the next outage opens a new request.
#[tokio::test(start_paused = true)]
async fn a_service_closed_by_hand_opens_nothing_until_it_recovers() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let first = down(&h, &mut a).await?;

    let closed = h.close_request(first, "known: the disk is full").await?;
    assert_eq!(
        (closed.stage.as_str(), closed.close_reason.as_str()),
        ("done", "manual")
    );
    let note = closed.notes.last().expect("the closing note");
    assert_eq!(
        (note.author.as_str(), note.text.as_str()),
        ("admin", "known: the disk is full")
    );
    let event = h
        .await_event("request.closed", |b| b["id"] == first)
        .await?;
    assert_eq!(event["close_reason"], "manual", "{event}");
    assert_eq!(h.service(SERVICE).await?.open_request, None);
    let again = h.close_request(first, "").await.expect_err("closed twice");
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert!(
        again
            .message()
            .contains(&format!("request {first} is already closed")),
        "{again:?}"
    );
    let unknown = h.close_request(first + 100, "").await.expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    // Still down: failures, and a confirmed round after the agent came
    // back from a reconnect, open nothing.
    for _ in 0..3 {
        a.report(SERVICE, &Outcome::status(503)).await?;
    }
    let identity = a.identity().clone();
    drop(a);
    h.wait_state(SERVICE, "unknown").await?;
    let mut a = h
        .reconnect(&identity)
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    a.assignment().await?;
    round(&h, &mut a, &Outcome::status(503)).await?;
    h.wait_state(SERVICE, "down").await?;
    assert_eq!(
        h.requests().await?.len(),
        1,
        "a request opened while still down"
    );

    // Recovers, then fails again: a new request.
    round(&h, &mut a, &Outcome::ok()).await?;
    h.wait_state(SERVICE, "up").await?;
    h.await_event("service.up", |b| b["id"] == SERVICE).await?;
    let second = down(&h, &mut a).await?;
    assert_ne!(second, first);
    let opened = h
        .await_event("request.opened", |b| b["id"] == second)
        .await?;
    assert_eq!(opened["name"], format!("[HTTP KO] {URL}"));
    Ok(())
}

/// A restart does not undo a manual close: the service, still down, is
/// not taken for one whose request was never decided; the events up to
/// its recovery hold no second `request.opened`.
#[tokio::test(start_paused = true)]
async fn a_request_closed_by_hand_stays_closed_across_a_restart() -> anyhow::Result<()> {
    let config = one_service().defaults("host_grouping_window", "5s");
    let mut h = Harness::start(&config).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let first = down(&h, &mut a).await?;
    h.close_request(first, "known").await?;
    let identity = a.identity().clone();
    drop(a);

    h.restart().await?;
    // Past the grouping window a service waiting for its request would
    // wait at resume (within the dead-man's switch's window).
    h.advance(Duration::from_secs(6)).await;
    let mut a = h
        .reconnect(&identity)
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    a.assignment().await?;
    round(&h, &mut a, &Outcome::ok()).await?;
    let log = h.events_until("service.up", |b| b["id"] == SERVICE).await?;
    let opened: Vec<_> = log
        .iter()
        .filter(|(kind, _)| kind == "request.opened")
        .map(|(_, body)| body["id"].clone())
        .collect();
    assert_eq!(opened, [serde_json::json!(first)], "{log:?}");
    assert_eq!(h.requests().await?.len(), 1);
    Ok(())
}

/// Notes by `admin` on an open and on a closed request; an empty one is
/// refused.
#[tokio::test(start_paused = true)]
async fn notes_go_on_open_and_closed_requests() -> anyhow::Result<()> {
    let h = Harness::start(&one_service()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let id = down(&h, &mut a).await?;
    h.add_note(id, "on it").await?;
    h.close_request(id, "").await?;
    let noted = h.add_note(id, "post-mortem written").await?;
    let notes: Vec<(&str, &str)> = noted
        .notes
        .iter()
        .map(|n| (n.author.as_str(), n.text.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            ("admin", "on it"),
            ("admin", "closed by hand"),
            ("admin", "post-mortem written")
        ]
    );
    let empty = h.add_note(id, "  ").await.expect_err("empty note");
    assert_eq!(empty.code(), Code::InvalidArgument, "{empty:?}");
    assert!(empty.message().starts_with("text: "), "{empty:?}");
    let long = h.add_note(id, &"x".repeat(5000)).await.expect_err("long");
    assert_eq!(long.code(), Code::InvalidArgument, "{long:?}");
    Ok(())
}

/// An `[AGENT DOWN]` request closed by hand while the agent stays silent
/// is not opened again; once the agent is back and dies again, it is.
#[tokio::test(start_paused = true)]
async fn an_agent_request_closed_by_hand_waits_for_the_agent_to_return() -> anyhow::Result<()> {
    let h = Harness::start(&one_service().agents("agents_per_service", 1)).await?;
    let mut a1 = h.agent("edge-1", "eu").await?;
    let mut a2 = h.agent("edge-2", "eu").await?;
    for _ in 0..5 {
        beat(&h, &mut [&mut a2]).await?;
    }
    let opened = h
        .await_event("request.opened", |b| b["kind"] == "agent")
        .await?;
    let first = opened["id"].as_i64().expect("an integer id");
    h.close_request(first, "edge-1 is decommissioned for a day")
        .await?;
    // Six more windows of silence: no second request.
    for _ in 0..18 {
        beat(&h, &mut [&mut a2]).await?;
    }
    assert_eq!(agent_requests(&h).await?.len(), 1, "reopened while dead");
    let listed = h.wait_agent(a1.id(), "edge-1 listed", |_| true).await?;
    assert_eq!(listed.liveness, "dead");

    // Back, then silent again: a new request.
    a1.heartbeat().await?;
    h.await_event("agent.up", |b| b["agent"]["id"] == a1.id())
        .await?;
    for _ in 0..5 {
        beat(&h, &mut [&mut a2]).await?;
    }
    let again = h
        .await_event("request.opened", |b| {
            b["kind"] == "agent" && b["id"] != first
        })
        .await?;
    assert_eq!(again["agent"]["id"], a1.id(), "{again}");
    Ok(())
}

const ACTIVE_LINE: &str = "url = \"http://shop.test/\"\n";

fn paused(text: &str) -> String {
    text.replace(ACTIVE_LINE, &format!("{ACTIVE_LINE}active = false\n"))
}

/// A service paused (`active = false`) across a restart keeps its open
/// request, is listed as `paused`, and is assigned to no agent; resumed
/// at the next restart it starts `unknown`, is probed again, and its
/// recovery closes the request as usual.
#[tokio::test(start_paused = true)]
async fn a_paused_service_keeps_its_request_and_is_not_probed() -> anyhow::Result<()> {
    let mut h = Harness::start(&one_service()).await?;
    let mut a = h.agent("edge-1", "eu").await?;
    a.assignment().await?;
    let id = down(&h, &mut a).await?;
    let identity = a.identity().clone();

    h.restart_edited(paused).await?;
    a.closed().await?;
    // The evaluator records `paused` as it starts.
    h.wait_state(SERVICE, "paused").await?;
    let listed = h.services().await?;
    let shop = listed
        .iter()
        .find(|s| s.id == SERVICE)
        .ok_or_else(|| anyhow::anyhow!("a paused service is not listed: {listed:?}"))?;
    assert_eq!(
        (shop.state.as_str(), shop.open_request),
        ("paused", Some(id))
    );
    let mut a = h
        .reconnect(&identity)
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    assert!(
        a.assignment().await?.is_empty(),
        "a paused service was assigned"
    );
    // 40 s pass (within the settle window after the restart, so that the
    // silent scripted agent raises no alert of its own).
    h.advance(Duration::from_secs(40)).await;
    let requests = h.requests().await?;
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.kind == "corrective")
            .map(|r| (r.id, r.stage.as_str()))
            .collect::<Vec<_>>(),
        [(id, "open")],
        "the paused service's request changed"
    );

    h.restart_edited(|t| t.replace("active = false\n", ""))
        .await?;
    a.closed().await?;
    h.wait_state(SERVICE, "unknown").await?;
    let mut a = h
        .reconnect(&identity)
        .await?
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    assert_eq!(a.assignment().await?, [SERVICE.to_owned()]);
    round(&h, &mut a, &Outcome::ok()).await?;
    let closed = h.await_event("request.closed", |b| b["id"] == id).await?;
    assert_eq!(closed["close_reason"], "recovered", "{closed}");
    Ok(())
}
