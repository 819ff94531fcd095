//! Push check-ins through the real binaries: an instance registers itself
//! with the heartbeat enrollment token over plain HTTP, `picketctl
//! heartbeats approve` lets it alert, it pings with a plain HTTP/1.0
//! request, falls silent (a `[NO CHECK-IN]` request opens), and pings again
//! (the request closes, `recovered`).

use std::net::SocketAddr;

use picket_e2e::{Collector, Config, DEADLINE, Seen, wait_until};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ENROLL: &str = "e2e-heartbeat-enroll";

/// `POST path` over a plain TCP connection (HTTP/1.0): status and body.
async fn post(
    http: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<(u16, Value)> {
    let mut stream = tokio::net::TcpStream::connect(http).await?;
    let mut request = format!(
        "POST {path} HTTP/1.0\r\nhost: picket\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("no end of headers in {response:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status in {head:?}"))?;
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// The request named `[NO CHECK-IN] {name}` once `pred` holds for it.
async fn wait_request(
    c: &Collector,
    name: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let wanted = format!("[NO CHECK-IN] {name}");
    wait_until(DEADLINE, what, async || {
        let requests = c.requests().await?;
        let found = requests.iter().find(|r| r["name"] == wanted && pred(r));
        Ok::<_, anyhow::Error>(match found {
            Some(r) => Seen::Ready(r.clone()),
            None => Seen::Pending(Value::from(requests).to_string()),
        })
    })
    .await
}

#[tokio::test]
async fn a_registered_instance_is_approved_goes_silent_and_comes_back() -> anyhow::Result<()> {
    let config = Config::fast().collector("heartbeat_enrollment_token", ENROLL);
    let c = Collector::start(config).await?;
    let http = c.http_addr();
    let bearer = format!("Bearer {ENROLL}");
    let wrong = post(
        http,
        "/heartbeats/register",
        &[("authorization", "Bearer no")],
        "{}",
    )
    .await?;
    assert_eq!(wrong.0, 401, "{wrong:?}");
    let (status, registered) = post(
        http,
        "/heartbeats/register",
        &[("authorization", &bearer)],
        r#"{"name": "customer-42", "period": "1s", "grace": "1s"}"#,
    )
    .await?;
    assert_eq!(status, 201, "{registered}");
    let id = registered["id"].as_str().unwrap_or_default().to_owned();
    let token = registered["token"].as_str().unwrap_or_default().to_owned();
    let ping = format!("/ping/{token}");

    let shown = c.ctl(&["heartbeats", "show", &id]).await?;
    assert_eq!(
        (&shown["state"], &shown["liveness"]),
        (&Value::from("new"), &Value::from("waiting")),
        "{shown}"
    );
    let approved = c.ctl(&["heartbeats", "approve", &id]).await?;
    assert_eq!(approved["state"], "active", "{approved}");
    let (status, answer) = post(http, &ping, &[], r#"{"version": "1.2.3"}"#).await?;
    assert_eq!(status, 200, "{answer}");

    // Silent past period + grace (2 s): the request opens.
    let opened = wait_request(&c, "customer-42", "the [NO CHECK-IN] request", |r| {
        r["stage"] == "open"
    })
    .await?;
    assert_eq!(opened["kind"], "checkin", "{opened}");
    let listed = c.ctl(&["heartbeats"]).await?;
    let row = listed
        .as_array()
        .and_then(|l| l.iter().find(|h| h["id"] == id.as_str()).cloned())
        .unwrap_or_default();
    assert_eq!(
        (
            &row["liveness"],
            &row["open_request"],
            &row["last_stats"]["version"]
        ),
        (&Value::from("late"), &opened["id"], &Value::from("1.2.3")),
        "{listed}"
    );

    // A ping closes it.
    let (status, _) = post(http, &ping, &[], "").await?;
    assert_eq!(status, 200);
    let closed = wait_request(&c, "customer-42", "the request closed", |r| {
        r["id"] == opened["id"] && r["stage"] == "done"
    })
    .await?;
    assert_eq!(closed["close_reason"], "recovered", "{closed}");

    // A new token ends the old one.
    let issued = c.ctl(&["heartbeats", "token", &id]).await?;
    assert_ne!(issued["token"], token.as_str(), "{issued}");
    assert_eq!(post(http, &ping, &[], "").await?.0, 404);
    Ok(())
}
