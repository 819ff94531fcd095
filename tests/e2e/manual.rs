//! `picketctl requests close ID [--note TEXT]`, `requests note ID TEXT` and
//! `requests ack ID [--note TEXT] [--by NAME]` through the real binaries:
//! human output and `--json`, the exit status of a close of a closed
//! request (and of a second ack), and a new request after the service
//! recovered and failed again.

use picket_e2e::parse_time;
use picket_e2e::target::Target;

use picket_e2e::{Agent, Collector};

use crate::common::{SERVICE, is_down_with_request, one_service, open_request, start};

/// A collector and its agent probing a target that answers 500.
async fn failing() -> anyhow::Result<(Target, Collector, Agent)> {
    let target = Target::http().await;
    target.set_status(500);
    let (c, agent) = start(one_service(&target.url()), &[]).await?;
    Ok((target, c, agent))
}

/// Waits until the service is down with a request; its id.
async fn down_with_request(c: &Collector) -> anyhow::Result<i64> {
    let down = c.wait_service(SERVICE, "down with an open request", is_down_with_request);
    Ok(open_request(&down.await?))
}

#[tokio::test]
async fn requests_are_closed_and_noted_by_hand_with_picketctl() -> anyhow::Result<()> {
    let (target, c, _agent) = failing().await?;
    let first = down_with_request(&c).await?;
    let id = first.to_string();

    // People: one `key  value` line per field, notes listed.
    let noted = c
        .ctl_raw(&["requests", "note", &id, "checking the disk"])
        .await?;
    assert_eq!(noted.code, Some(0), "{noted:?}");
    assert!(noted.stdout.contains("checking the disk"), "{noted:?}");
    assert!(noted.stdout.contains("admin"), "{noted:?}");
    let closed = c
        .ctl_raw(&["requests", "close", &id, "--note", "disk replaced"])
        .await?;
    assert_eq!(closed.code, Some(0), "{closed:?}");
    for shown in ["manual", "done", "disk replaced"] {
        assert!(
            closed.stdout.contains(shown),
            "{shown} not shown: {closed:?}"
        );
    }
    let again = c.ctl_raw(&["requests", "close", &id]).await?;
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(
        again
            .stderr
            .contains(&format!("request {first} is already closed")),
        "{again:?}"
    );
    assert!(c.service(SERVICE).await?["open_request"].is_null());

    // Recovered, then down again: a new request, closed with --json and
    // the standard note, then noted.
    target.set_status(200);
    c.wait_state(SERVICE, "up").await?;
    target.set_status(500);
    let second = open_request(
        &c.wait_service(SERVICE, "down with a new request", |s| {
            is_down_with_request(s) && s["open_request"] != first
        })
        .await?,
    );
    let id = second.to_string();
    let closed = c.ctl(&["requests", "close", &id]).await?;
    assert_eq!(closed["id"], second, "{closed}");
    assert_eq!(closed["stage"], "done", "{closed}");
    assert_eq!(closed["close_reason"], "manual", "{closed}");
    assert!(parse_time(&closed["closed_at"]).is_some(), "{closed}");
    let note = &closed["notes"][closed["notes"].as_array().map_or(0, Vec::len) - 1];
    assert_eq!(
        (&note["author"], &note["text"]),
        (&"admin".into(), &"closed by hand".into()),
        "{closed}"
    );
    let noted = c
        .ctl(&["requests", "note", &id, "post-mortem written"])
        .await?;
    let notes = noted["notes"].as_array().cloned().unwrap_or_default();
    let last = notes.last().cloned().unwrap_or_default();
    assert_eq!(last["text"], "post-mortem written", "{noted}");
    assert_eq!(last["author"], "admin", "{noted}");
    assert!(parse_time(&last["time"]).is_some(), "{noted}");

    let empty = c.ctl_raw(&["requests", "note", &id, ""]).await?;
    assert_eq!(empty.code, Some(1), "{empty:?}");
    assert!(empty.stderr.contains("empty note"), "{empty:?}");
    Ok(())
}

/// `picketctl requests ack ID --note … --by …`: the request's JSON gains
/// `acknowledged_at` and `acknowledged_by` (and the note by them), the
/// `request.acknowledged` event is in `picketctl events`, and a second
/// ack fails naming who acknowledged it.
#[tokio::test]
async fn a_request_is_acknowledged_with_picketctl() -> anyhow::Result<()> {
    let (_target, c, _agent) = failing().await?;
    let first = down_with_request(&c).await?;
    let id = first.to_string();
    let before = c.request(first).await?;
    assert!(before["acknowledged_at"].is_null(), "{before}");
    assert!(before["acknowledged_by"].is_null(), "{before}");

    let acked = c
        .ctl(&["requests", "ack", &id, "--note", "on it", "--by", "alice"])
        .await?;
    assert_eq!(acked["stage"], "open", "{acked}");
    assert_eq!(acked["acknowledged_by"], "alice", "{acked}");
    assert!(parse_time(&acked["acknowledged_at"]).is_some(), "{acked}");
    let notes = acked["notes"].as_array().cloned().unwrap_or_default();
    let last = notes.last().cloned().unwrap_or_default();
    assert_eq!(
        (&last["author"], &last["text"]),
        (&"alice".into(), &"on it".into()),
        "{acked}"
    );
    assert_eq!(c.request(first).await?["acknowledged_by"], "alice");

    let events = crate::agents::events_of(&c, "request.acknowledged", &id).await?;
    assert_eq!(events.len(), 1, "{events:?}");

    let again = c.ctl_raw(&["requests", "ack", &id]).await?;
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(
        again.stderr.contains("already acknowledged by alice at "),
        "{again:?}"
    );
    let unknown = c.ctl_raw(&["requests", "ack", "999999"]).await?;
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert!(unknown.stderr.contains("not found"), "{unknown:?}");
    Ok(())
}
