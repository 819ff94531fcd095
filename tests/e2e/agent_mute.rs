//! `picketctl agents mute ID --for 1h --note TEXT` and `agents unmute ID`
//! through the real binaries: the JSON's `muted_until` (an hour ahead) and
//! `mute_note`, the events `agent.muted` / `agent.unmuted`, and the
//! agent's own page `/agents/{id}` showing the mute, then not.

use std::time::{Duration, SystemTime};

use picket_e2e::parse_time;
use picket_e2e::status::http_get_page;
use picket_e2e::target::Target;

use crate::agents::{agent_named, events_of};
use crate::common::{AGENT, SERVICE, one_service, start};

const NOTE: &str = "rack move in ap-south";

#[tokio::test]
async fn muting_an_agent_shows_in_its_json_events_and_page_until_unmuted() -> anyhow::Result<()> {
    let target = Target::http().await;
    let (c, _agent) = start(one_service(&target.url()), &[]).await?;
    c.wait_state(SERVICE, "up").await?;
    let id = agent_named(&c, AGENT).await?.expect("live")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let page = format!("/agents/{id}");

    let before = SystemTime::now();
    let muted = c
        .ctl(&["agents", "mute", &id, "--for", "1h", "--note", NOTE])
        .await?;
    let until = parse_time(&muted["muted_until"]).expect("muted_until is a time");
    let ahead = until.duration_since(before)?;
    assert!(
        ahead > Duration::from_secs(3590) && ahead < Duration::from_secs(3660),
        "{ahead:?}: {muted}"
    );
    assert_eq!(muted["mute_note"], NOTE, "{muted}");
    let listed = agent_named(&c, AGENT).await?.expect("listed");
    assert_eq!(
        (&listed["muted_until"], &listed["mute_note"]),
        (&muted["muted_until"], &muted["mute_note"]),
        "{listed}"
    );
    let events = events_of(&c, "agent.muted", &id).await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].to_string().contains(NOTE), "{}", events[0]);

    let (status, body) = http_get_page(c.http_addr(), &page).await?;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<h1>Agent edge-1</h1>"), "{body}");
    assert!(body.contains("Muted</span> until "), "{body}");
    assert!(body.contains(NOTE), "{body}");

    let unmuted = c.ctl(&["agents", "unmute", &id]).await?;
    assert_eq!(unmuted["id"], id.as_str(), "{unmuted}");
    let listed = agent_named(&c, AGENT).await?.expect("listed");
    assert!(listed["muted_until"].is_null(), "{listed}");
    assert!(listed["mute_note"].is_null(), "{listed}");
    let events = events_of(&c, "agent.unmuted", &id).await?;
    assert_eq!(events.len(), 1, "{events:?}");

    let (status, body) = http_get_page(c.http_addr(), &page).await?;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("Muted</span>"), "{body}");
    assert!(!body.contains(NOTE), "{body}");
    Ok(())
}
