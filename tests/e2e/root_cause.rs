//! One request per root cause through the real binaries: a real agent
//! probes a real loopback target; three services of one equipment fail
//! together and `picketctl requests --json` shows one `[HOST KO]`
//! request listing them, none per service, closed once they are back.

use picket_e2e::target::Target;
use picket_e2e::{Config, Service};
use serde_json::Value;

use crate::common::{EQUIPMENT, EQUIPMENT_NAME, start};

const HOST: [&str; 3] = ["shop", "cart", "api"];

#[tokio::test]
async fn a_host_going_down_opens_one_host_request_through_picketctl() -> anyhow::Result<()> {
    let failing = Target::http().await;
    let healthy = Target::http().await;
    let mut config = Config::fast()
        .equipment(EQUIPMENT, EQUIPMENT_NAME)
        .equipment("db-1", "Database 1");
    for s in HOST {
        let url = format!("{}/{s}", failing.url());
        config = config.service(Service::new(s, EQUIPMENT, &url));
    }
    for s in ["pg", "redis"] {
        let url = format!("{}/{s}", healthy.url());
        config = config.service(Service::new(s, "db-1", &url));
    }
    let (c, _agent) = start(config, &[]).await?;
    for s in HOST {
        c.wait_state(s, "up").await?;
    }

    failing.set_status(503);
    let linked = c
        .wait_service(HOST[0], "down with an open request", |s| {
            s["state"] == "down" && s["open_request"].is_i64()
        })
        .await?;
    let id = linked["open_request"].clone();
    for s in HOST {
        let service = c
            .wait_service(s, "linked to the host request", |v| v["open_request"] == id)
            .await?;
        assert_eq!(service["state"], "down", "{service}");
    }
    let requests = c.requests().await?;
    assert_eq!(
        requests.len(),
        1,
        "one request, none per service: {requests:?}"
    );
    let host = &requests[0];
    assert_eq!(host["id"], id, "{host}");
    assert_eq!(
        host["name"],
        format!("[HOST KO] {EQUIPMENT_NAME}"),
        "{host}"
    );
    assert_eq!(host["kind"], "host", "{host}");
    assert_eq!(host["stage"], "open", "{host}");
    let description = host["description"].as_str().unwrap_or_default();
    for s in HOST {
        let line = format!("- {s} ({}/{s}): HTTP 503", failing.url());
        assert!(description.contains(&line), "{line} not in {description}");
    }

    failing.set_status(200);
    let id = id.as_i64().unwrap_or_default();
    let closed = wait_closed(&c, id).await?;
    assert_eq!(closed["close_reason"], "recovered", "{closed}");
    let notes = closed["notes"].as_array().cloned().unwrap_or_default();
    let last = notes.last().cloned().unwrap_or(Value::Null);
    let text = last["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("closed automatically: every service is back up"),
        "{closed}"
    );
    assert_eq!(c.requests().await?.len(), 1, "a request opened on recovery");
    Ok(())
}

async fn wait_closed(c: &picket_e2e::Collector, id: i64) -> anyhow::Result<Value> {
    for s in HOST {
        c.wait_state(s, "up").await?;
    }
    let request = c.request(id).await?;
    anyhow::ensure!(request["stage"] == "done", "not closed: {request}");
    Ok(request)
}
